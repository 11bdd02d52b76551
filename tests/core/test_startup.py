"""A process start loads no file-format or text-segmentation library it may never use.

Every crawl run is a process of its own, and so is every worker: python-pptx, openpyxl, jieba
and NumPy took about a second of each start on a slow host. They load where a report, an export,
a search index or a matching run needs them.
"""

import os
import subprocess
import sys

HEAVY = ("openpyxl", "pptx", "jieba", "rjieba", "numpy")


def test_setting_django_up_loads_none_of_the_heavy_libraries(tmp_path):
    code = (
        "import django, sys; django.setup(); "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "ibcloud.settings"}
    env["IBCLOUD_DATA_DIR"] = str(tmp_path)
    result = subprocess.run(  # noqa: S603 - our interpreter
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == ""
