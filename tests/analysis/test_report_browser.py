"""The HTML report in a real browser: headless Chromium (Debian's package, installed by
`make setup`) renders it, and every figure must load and be legible at the size the page
shows it (its smallest font at least MIN_FONT_PX on screen, nothing clipped)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from sweep_helpers import write_spec

from specaccel.cli import main

MIN_FONT_PX = 9.0
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]

# Run in the page after it loaded: what the browser made of each figure.
PROBE = """<script>
window.addEventListener('load', () => {
  const figs = [...document.querySelectorAll('img')].map(img => ({
    alt: img.alt, complete: img.complete, natural: img.naturalWidth,
    shown: img.getBoundingClientRect().width,
    minFontPx: parseFloat(img.dataset.minFontPx || '0'),
    clipped: parseInt(img.dataset.clippedText || '0')}));
  const pre = document.createElement('pre'); pre.id = 'probe';
  pre.textContent = JSON.stringify(figs); document.body.appendChild(pre);
});
</script>"""

SPEC = """[sweep]
name = "browser"
[fixed]
hardware = "specaccel-default"
[axes]
array_rows = [32, 64, 128]
tree = ["sequoia-8", "sequoia-16"]
[[workloads]]
preset = "eagle-vicuna-7b-mtbench"
requests = 1
steps = 4
[[workloads]]
preset = "medusa2-vicuna-7b-mtbench"
requests = 1
steps = 4
"""


def _browser_facts(page: Path, tmp: Path) -> list[dict]:
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is not installed (make setup installs it)"
    probe = tmp / "probed.html"
    probe.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    proc = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp / 'profile'}",
                           "--window-size=1280,4000", "--virtual-time-budget=10000",
                           "--dump-dom", probe.as_uri()],
                          capture_output=True, text=True, timeout=180)
    found = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S)
    assert found, proc.stderr[-2000:]
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def test_every_figure_loads_and_is_legible_in_chromium(tmp_path, capsys):
    spec = write_spec(tmp_path, SPEC)
    out = tmp_path / "results"
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--json"]) == 0
    assert main(["report", str(out), "--pareto",
                 "tokens_per_s:max,energy_per_token_j:min,area_mm2:min", "--json"]) == 0
    capsys.readouterr()
    figs = _browser_facts(out / "report.html", tmp_path)
    assert len(figs) >= 5, figs  # Pareto, roofline, speedup vs tree, histograms, energy
    for f in figs:
        assert f["complete"] and f["natural"] > 0, f"{f['alt']} did not load"
        shown_px = f["minFontPx"] * f["shown"] / f["natural"]
        assert shown_px >= MIN_FONT_PX, f"{f['alt']}: smallest text {shown_px:.1f} px"
        assert f["clipped"] == 0, f"{f['alt']}: {f['clipped']} px of text cut off"


def test_speedup_vs_tree_only_when_the_tree_is_swept(tmp_path, capsys):
    from specaccel.analysis.html_report import write_html_report

    spec = write_spec(tmp_path, SPEC.replace('tree = ["sequoia-8", "sequoia-16"]\n', ""))
    out = tmp_path / "results"
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--json"]) == 0
    path, analysis = write_html_report(out)
    text = path.read_text()
    assert "speedup vs tree budget: not drawn (the tree is not an axis" in text
    # two workloads: one front each, and the table shows the same designs
    per = analysis.frame[analysis.front].groupby("workload").size()
    assert set(per.index) == {"eagle-vicuna-7b-mtbench", "medusa2-vicuna-7b-mtbench"}
