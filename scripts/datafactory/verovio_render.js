// Engraves one MusicXML file with verovio: one SVG per page plus layout.json, which lists
// for every page the systems and, per system, how many measures it holds (in score order).
// Usage: node verovio_render.js IN.musicxml OUTDIR '{"pageWidth":2100,...}'
'use strict';
const fs = require('fs');
const path = require('path');

const [input, outDir, optionsJson] = process.argv.slice(2);
if (!input || !outDir) {
  console.error('usage: node verovio_render.js IN.musicxml OUTDIR [OPTIONS_JSON]');
  process.exit(2);
}
const modulePath = process.env.UMT_VEROVIO || path.join(__dirname, '..', '..', 'tools', 'node_modules', 'verovio');
const verovio = require(modulePath);

verovio.module.onRuntimeInitialized = () => {
  const tk = new verovio.toolkit();
  const options = Object.assign({
    breaks: 'auto', adjustPageHeight: false, header: 'none', footer: 'none',
    svgViewBox: false, mmOutput: false,
  }, optionsJson ? JSON.parse(optionsJson) : {});
  tk.setOptions(options);
  if (!tk.loadData(fs.readFileSync(input, 'utf8'))) {
    console.error(`${input}: verovio could not load it`);
    process.exit(1);
  }
  fs.mkdirSync(outDir, { recursive: true });
  const pages = [];
  const count = tk.getPageCount();
  for (let p = 1; p <= count; ++p) {
    const svg = tk.renderToSVG(p);
    const file = `page-${p}.svg`;
    fs.writeFileSync(path.join(outDir, file), svg);
    pages.push({ file, svg_bytes: svg.length });
  }
  fs.writeFileSync(path.join(outDir, 'layout.json'), JSON.stringify({ engraver: 'verovio', version: tk.getVersion(), options, pages }));
};
