<#
.SYNOPSIS
    Installs IB Cloud (the platform) as three Windows services with WinSW: ibcloud-web, ibcloud-worker-default
    and ibcloud-worker-crawl.

.DESCRIPTION
    Run in an elevated PowerShell after `py bootstrap.py install` and `.venv\Scripts\ibcloud
    migrate`. Nothing is downloaded: -WinSW names the WinSW executable the administrator copied
    onto the machine (WinSW v2.12.0, WinSW-x64.exe, from https://github.com/winsw/winsw/releases;
    see docs\deployment-windows.md).

    Each service gets a folder under -ServiceDir holding a copy of WinSW renamed after the service,
    its XML configuration (with the environment from -EnvFile: it holds secrets, so the folder is
    readable by Administrators and SYSTEM only) and WinSW's rolling logs of the process output.

    ibcloud-web runs `ibcloud serve --no-workers` (waitress; static files from whitenoise); the
    workers run `ibcloud worker --queue default` (which also runs the periodic jobs) and
    `ibcloud worker --queue crawl`. Run the script again after changing -EnvFile; it reinstalls.

.EXAMPLE
    .\deploy\windows\install-services.ps1 -WinSW D:\offline\WinSW-x64.exe -EnvFile C:\ProgramData\ibcloud\ibcloud.env
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)] [string] $WinSW,
    [string] $AppDir = (Resolve-Path (Join-Path $PSScriptRoot '..\..')).Path,
    [string] $EnvFile = (Join-Path $PSScriptRoot 'ibcloud.env'),
    [string] $ServiceDir = 'C:\ProgramData\ibcloud\services',
    [string] $ListenHost = '127.0.0.1',
    [int] $Port = 8000,
    [int] $Threads = 16,
    # Address of the reverse proxy in front (e.g. 127.0.0.1); '' when clients connect directly.
    [string] $TrustedProxy = '',
    [switch] $NoCrawlWorker
)
$ErrorActionPreference = 'Stop'

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    throw 'Run this script in an elevated PowerShell (Run as administrator).'
}
if (-not (Test-Path $WinSW -PathType Leaf)) { throw "WinSW executable not found: $WinSW" }
$Ibcloud = Join-Path $AppDir '.venv\Scripts\ibcloud.exe'
if (-not (Test-Path $Ibcloud -PathType Leaf)) {
    throw "$Ibcloud not found: run 'py bootstrap.py install' in $AppDir first."
}
if (-not (Test-Path $EnvFile -PathType Leaf)) { throw "Environment file not found: $EnvFile" }

function Read-EnvFile([string] $Path) {
    # KEY=value lines; blank lines and lines starting with # are skipped.
    $pairs = [ordered]@{}
    foreach ($line in Get-Content -LiteralPath $Path -Encoding UTF8) {
        $text = $line.Trim()
        if ($text -eq '' -or $text.StartsWith('#')) { continue }
        $at = $text.IndexOf('=')
        if ($at -lt 1) { throw "Not a KEY=value line in ${Path}: $line" }
        $pairs[$text.Substring(0, $at).Trim()] = $text.Substring($at + 1).Trim()
    }
    return $pairs
}

function Invoke-Quietly([string] $Exe, [string] $Command) {
    # Windows PowerShell turns a native command's redirected error output into a terminating
    # error under ErrorActionPreference Stop; here a failure is expected (not installed yet).
    $previous = $ErrorActionPreference
    $ErrorActionPreference = 'Continue'
    try { & $Exe $Command *> $null } finally { $ErrorActionPreference = $previous }
}

function Escape-Xml([string] $Text) { return [Security.SecurityElement]::Escape($Text) }

function Install-IbcloudService([string] $Id, [string] $Name, [string] $Arguments, $Environment) {
    $dir = Join-Path $ServiceDir $Id
    $exe = Join-Path $dir "$Id.exe"
    if (Test-Path $exe) {
        # Reinstall: stop and remove the old service first (it may not be installed yet).
        Invoke-Quietly $exe 'stop'
        Invoke-Quietly $exe 'uninstall'
    }
    New-Item -ItemType Directory -Force -Path $dir | Out-Null
    # Only Administrators and SYSTEM may read the folder: the XML holds the secret key.
    & icacls $dir /inheritance:r /grant:r '*S-1-5-32-544:(OI)(CI)F' '*S-1-5-18:(OI)(CI)F' | Out-Null
    Copy-Item -LiteralPath $WinSW -Destination $exe -Force

    $envLines = ($Environment.GetEnumerator() | ForEach-Object {
        "  <env name=`"$(Escape-Xml $_.Key)`" value=`"$(Escape-Xml $_.Value)`"/>"
    }) -join "`r`n"
    $xml = @"
<service>
  <id>$Id</id>
  <name>$(Escape-Xml $Name)</name>
  <description>$(Escape-Xml $Name) ($AppDir)</description>
  <executable>$(Escape-Xml $Ibcloud)</executable>
  <arguments>$(Escape-Xml $Arguments)</arguments>
  <workingdirectory>$(Escape-Xml $AppDir)</workingdirectory>
  <startmode>Automatic</startmode>
  <delayedAutoStart>true</delayedAutoStart>
  <!-- Stop sends Ctrl+C to ibcloud first (the server and workers stop cleanly on it), then
       its child processes; after stoptimeout WinSW ends what is left. -->
  <stopparentprocessfirst>true</stopparentprocessfirst>
  <stoptimeout>45 sec</stoptimeout>
  <onfailure action="restart" delay="10 sec"/>
  <onfailure action="restart" delay="30 sec"/>
  <resetfailure>1 hour</resetfailure>
  <log mode="roll-by-size">
    <sizeThreshold>10240</sizeThreshold>
    <keepFiles>8</keepFiles>
  </log>
$envLines
</service>
"@
    Set-Content -LiteralPath (Join-Path $dir "$Id.xml") -Value $xml -Encoding UTF8
    & $exe install
    if ($LASTEXITCODE -ne 0) { throw "WinSW could not install $Id (exit code $LASTEXITCODE)." }
    & $exe start
    if ($LASTEXITCODE -ne 0) { throw "WinSW could not start $Id (exit code $LASTEXITCODE)." }
    Write-Host "Installed and started $Id"
}

$environment = Read-EnvFile $EnvFile
$environment['DJANGO_SETTINGS_MODULE'] = 'ibcloud.settings'
$environment['PYTHONUTF8'] = '1'
foreach ($key in 'IBCLOUD_DATA_DIR', 'IBCLOUD_LOG_DIR') {
    if ($environment.Contains($key)) { New-Item -ItemType Directory -Force -Path $environment[$key] | Out-Null }
}

# Refuse to install against an old schema, as `ibcloud serve` would at start-up.
foreach ($pair in $environment.GetEnumerator()) { Set-Item -Path "Env:$($pair.Key)" -Value $pair.Value }
& $Ibcloud migrate --check
if ($LASTEXITCODE -ne 0) { throw "Unapplied migrations: run '$Ibcloud migrate' with the same environment first." }

$webArguments = "serve --no-workers --host $ListenHost --port $Port --threads $Threads"
if ($TrustedProxy) { $webArguments += " --trusted-proxy $TrustedProxy" }
Install-IbcloudService 'ibcloud-web' 'IB Cloud web server' $webArguments $environment
Install-IbcloudService 'ibcloud-worker-default' 'IB Cloud job worker (default queue)' `
    'worker --queue default' $environment
if (-not $NoCrawlWorker) {
    Install-IbcloudService 'ibcloud-worker-crawl' 'IB Cloud job worker (crawl queue)' `
        'worker --queue crawl' $environment
}
Write-Host "IB Cloud listens on http://${ListenHost}:$Port/ (services: Get-Service ibcloud-*)"
