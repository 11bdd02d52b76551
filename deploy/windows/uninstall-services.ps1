<#
.SYNOPSIS
    Stops and removes the IB Cloud Windows services that install-services.ps1 installed.
    Data (IBCLOUD_DATA_DIR) and the program folder are left as they are.
#>
[CmdletBinding()]
param([string] $ServiceDir = 'C:\ProgramData\ibcloud\services')
$ErrorActionPreference = 'Stop'
foreach ($id in 'ibcloud-worker-crawl', 'ibcloud-worker-default', 'ibcloud-web') {
    $exe = Join-Path (Join-Path $ServiceDir $id) "$id.exe"
    if (-not (Test-Path $exe)) { continue }
    $ErrorActionPreference = 'Continue'  # "stop" fails harmlessly on a stopped service
    & $exe stop
    $ErrorActionPreference = 'Stop'
    & $exe uninstall
    if ($LASTEXITCODE -ne 0) { throw "WinSW could not remove $id (exit code $LASTEXITCODE)." }
    Write-Host "Removed $id"
}
