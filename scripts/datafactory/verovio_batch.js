// Engraves many small MusicXML files with one verovio toolkit, each as one system on a page cut
// to its content (the OMR excerpts of scripts/build_excerpts.py).
// Usage: node verovio_batch.js JOBS.json
//   JOBS.json: [{"in": "a.musicxml", "out": "a.svg", "options": {"font": "Bravura", ...}}, ...]
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
      fs.writeFileSync(job.out, tk.renderToSVG(1));
    } catch (e) {
      console.log(`FAILED ${job.in}: ${e.message}`);
    }
  }
};
