// Engraves many small MusicXML files with one verovio toolkit, each as one system on a page cut
// to its content (the OMR excerpts of scripts/build_excerpts.py).
// Usage: node verovio_batch.js JOBS.json
//   JOBS.json: [{"in": "a.musicxml", "out": "a.svg", "heads": "a.json", "options": {"font": "Bravura", ...}}, ...]
//   ("heads", optional: where the page's note heads and rests are written, svgHeads below)
// Prints one line per job that failed ("FAILED <in>: <reason>"); exit 0 when the batch ran.
'use strict';
const fs = require('fs');
const path = require('path');

const [jobsPath] = process.argv.slice(2);
if (!jobsPath) {
  console.error('usage: node verovio_batch.js JOBS.json');
  process.exit(2);
}
const modulePath = process.env.UMT_VEROVIO || path.join(__dirname, '..', '..', 'tools', 'node_modules', 'verovio');
const verovio = require(modulePath);

// Where the note heads and rests of a rendered page are (the dense OMR target of
// scripts/datafactory/excerpts.py): {"px_per_unit", "space", "heads": [[x, staff, pos], ...],
// "rests": [[x, staff], ...]}. x: the glyph's horizontal centre in the SVG's pixels; staff: 1.. in
// the measure (verovio writes each measure's staves in order); pos: the head's place in half staff
// spaces below the staff's top line (0 top line, 8 bottom line, < 0 above, > 8 below).
function svgHeads(svg) {
  const view = /<svg class="definition-scale"[^>]*viewBox="0 0 ([0-9.]+) ([0-9.]+)"/.exec(svg);
  const outer = /^<svg[^>]* width="([0-9.]+)px"/m.exec(svg);
  if (!view || !outer) throw new Error('an SVG without its page scale');
  const pxPerUnit = Number(outer[1]) / Number(view[1]);
  const margin = /class="page-margin" transform="translate\(([-0-9.]+), ([-0-9.]+)\)"/.exec(svg);
  const dx = margin ? Number(margin[1]) : 0;
  const out = {px_per_unit: pxPerUnit, space: 0, heads: [], rests: []};
  const stack = [];  // the class of each open <g>
  let staff = 0, lines = [], space = 0;
  const tag = /<(\/?)(g|path|use)\b([^>]*?)(\/?)>/g;
  let m;
  while ((m = tag.exec(svg)) !== null) {
    const [, close, name, attrs, selfClose] = m;
    if (name === 'g' && close) { stack.pop(); continue; }
    const cls = (/class="([^"]*)"/.exec(attrs) || [, ''])[1];
    if (name === 'g') {
      if (!selfClose) stack.push(cls);
      if (cls === 'measure') staff = 0;
      if (cls === 'staff') { staff += 1; lines = []; }
      continue;
    }
    const inside = stack[stack.length - 1] || '';
    if (name === 'path' && inside === 'staff') {  // a staff line: M x1 y L x2 y
      const d = /d="M([-0-9.]+) ([-0-9.]+) L([-0-9.]+) ([-0-9.]+)"/.exec(attrs);
      if (d && d[2] === d[4]) {
        lines.push(Number(d[2]));
        if (lines.length === 5) space = (lines[4] - lines[0]) / 4;
      }
      continue;
    }
    if (name !== 'use' || lines.length < 5) continue;
    const x = Number((/\bx="([-0-9.]+)"/.exec(attrs) || [, NaN])[1]);
    const y = Number((/\by="([-0-9.]+)"/.exec(attrs) || [, NaN])[1]);
    if (!isFinite(x) || !isFinite(y)) continue;
    const centre = (x + dx + 0.6 * space) * pxPerUnit;  // a head is about 1.2 staff spaces wide
    if (inside === 'notehead') {
      out.heads.push([Math.round(centre * 100) / 100, staff, Math.round((y - lines[0]) / (space / 2))]);
    } else if (inside === 'rest') {
      out.rests.push([Math.round(centre * 100) / 100, staff]);
    }
  }
  out.space = space * pxPerUnit;
  return out;
}

verovio.module.onRuntimeInitialized = () => {
  const tk = new verovio.toolkit();
  const jobs = JSON.parse(fs.readFileSync(jobsPath, 'utf8'));
  for (const job of jobs) {
    try {
      tk.setOptions(Object.assign({
        breaks: 'none', adjustPageHeight: true, adjustPageWidth: true, header: 'none', footer: 'none',
        svgViewBox: false, mmOutput: false, pageMarginLeft: 60, pageMarginRight: 60, pageMarginTop: 60,
        pageMarginBottom: 60,
      }, job.options || {}));
      if (!tk.loadData(fs.readFileSync(job.in, 'utf8'))) throw new Error('verovio could not load it');
      if (tk.getPageCount() !== 1) throw new Error(`${tk.getPageCount()} pages`);
      const svg = tk.renderToSVG(1);
      fs.writeFileSync(job.out, svg);
      if (job.heads) fs.writeFileSync(job.heads, JSON.stringify(svgHeads(svg)));
    } catch (e) {
      console.log(`FAILED ${job.in}: ${e.message}`);
    }
  }
};
