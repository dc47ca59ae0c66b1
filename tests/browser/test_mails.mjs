// Browser test of the mails as a reader's mail client shows them: the share
// (the seven-photo sample article, with a note holding a 180-character URL),
// the six-article digest and the confirmation mail (its site address made
// long on purpose) are written by the built mailer, their HTML parts opened
// in Debian's Chromium with every cid: image resolved to its part, at 320,
// 390, 800 and 1280 px wide. At each width: no horizontal scrolling
// (scrollWidth <= viewport), every image loaded and inside the viewport, the
// share's photos as wide as the text column allows (figure margins must not
// shrink them), and every visible text at a contrast of at least 4.5:1
// against what is behind it (WCAG 2.1, 1.4.3). Screenshots go to
// $MAILER_BUILD_DIR/artifacts/mail-<kind>-<width>.png.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const MAILER = process.env.MAILER_BIN;
const SOURCE = process.env.MAILER_SOURCE_DIR || path.resolve(here, '../..');
const BUILD = process.env.MAILER_BUILD_DIR || os.tmpdir();
const PYTHON = process.env.PYTHON || '/usr/bin/python3';
const CHROMIUM = '/usr/bin/chromium';
const SAMPLES = [
  'ha-giang-tong-ket-thi-dua-2021',
  'tin-bac-me-lam-san-20210813',
  'tin-ca-do-bong-da-20210928',
  'tin-cuu-chien-binh-20211008',
  'tin-nguoi-khuyet-tat-20211020',
  'tin-pccc-20211005',
];
const CHECKED = [320, 390, 800];
const SHOWN = [320, 390, 800, 1280];

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  console.error('playwright-core is not installed: run scripts/setup.sh (npm install in tests/browser)');
  process.exit(1);
}
if (!MAILER || !fs.existsSync(CHROMIUM)) {
  console.error('MAILER_BIN or ' + CHROMIUM + ' missing');
  process.exit(1);
}
let browser = null;
const failures = [];
function check(cond, msg) {
  if (!cond) {
    failures.push(msg);
    console.error('FAIL: ' + msg);
  }
}

const dir = path.join(BUILD, 'testtmp', 'browser-mails');
const artifacts = path.join(BUILD, 'artifacts');
fs.rmSync(dir, { recursive: true, force: true });
fs.mkdirSync(path.join(dir, 'out'), { recursive: true });
fs.mkdirSync(artifacts, { recursive: true });
const config = path.join(dir, 'mailer.ini');
// A long site address: the confirmation link is then about 190 characters without a space.
const BASE = 'https://tin-tuc.cong-thong-tin-dien-tu.hagiang.example/ban-tin/dang-ky-nhan-tin';
fs.writeFileSync(
  config,
  `[site]
name = Cổng Thông tin điện tử tỉnh Hà Giang
base_url = ${BASE}
timezone = Asia/Ho_Chi_Minh
[database]
path = ${path.join(dir, 'mailer.db')}
[mail]
from_address = tin-tuc@hagiang.example
from_name = Cổng TTĐT Hà Giang
secret = browser-mails-secret-0123456789
[delivery]
transport = dir:${path.join(dir, 'out')}
`,
);
const env = { ...process.env, MAILER_FAKE_NOW: '1641171600' };
const mailer = (...args) => execFileSync(MAILER, ['--config', config, ...args], { encoding: 'utf8', env });
mailer('init');
mailer('article', 'add', ...SAMPLES.map((s) => path.join(SOURCE, 'examples/articles', s + '.json')));

const longUrl =
  'https://hagiang.gov.vn/tin-tuc-su-kien/tong-ket-cong-tac-thi-dua-khen-thuong-nam-2021-va-phat-dong-' +
  'phong-trao-thi-dua-yeu-nuoc-nam-2022?utm_source=email&utm_medium=share&utm_campaign=tong-ket-2021';
const mails = {};
mails.share = path.join(dir, 'share.eml');
mailer('compose', 'share', SAMPLES[0], '--to', 'dong.nghiep@example.vn', '--to-name', 'Đồng Nghiệp',
  '--from-name', 'Nguyễn Thị Hoa', '--from-email', 'hoa.nguyen@example.vn',
  '--note', 'Chị xem bài này nhé, bản đầy đủ ở đây: ' + longUrl, '-o', mails.share);
mails.digest = path.join(dir, 'digest.eml');
mailer('compose', 'digest', '--articles', SAMPLES.join(','), '--to', 'ban.doc@example.vn', '--to-name',
  'Bạn Đọc', '-o', mails.digest);
mailer('list', 'create', 'ban-tin-tuan', '--name', 'Bản tin tuần', '--optin', 'double');
mailer('sub', 'add', 'ban.doc.moi@example.vn', '--list', 'ban-tin-tuan', '--name', 'Bạn Đọc Mới');
mailer('deliver', '--once');
const outs = fs.readdirSync(path.join(dir, 'out')).filter((n) => n.endsWith('.eml'));
check(outs.length === 1, 'one confirmation mail written: ' + outs.join(' '));
mails.confirm = path.join(dir, 'out', outs[0]);

const pages = {};
for (const [kind, eml] of Object.entries(mails)) {
  const r = JSON.parse(execFileSync(PYTHON, [path.join(here, 'mail2html.py'), eml, dir, kind], { encoding: 'utf8' }));
  check(r.unresolved.length === 0, `${kind}: cid references without a part: ${r.unresolved}`);
  check(r.unused.length === 0, `${kind}: image parts nobody references: ${r.unused}`);
  pages[kind] = r;
}
check(pages.share.images.length === 7, 'share: seven photos, got ' + pages.share.images.length);
check(pages.digest.images.length === 6, 'digest: six thumbnails, got ' + pages.digest.images.length);
check(fs.readFileSync(pages.confirm.html, 'utf8').includes(BASE + '/confirm/'), 'confirm: the long link is there');

browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
const context = await browser.newContext({ deviceScaleFactor: 1, locale: 'vi-VN' });
const page = await context.newPage();

// Measures the page in the browser: overflow, images, photo widths, contrast.
function measure() {
  const vw = window.innerWidth;
  const lin = (c) => {
    c /= 255;
    return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
  };
  const lum = ([r, g, b]) => 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  const rgba = (s) => (s.match(/[\d.]+/g) || []).map(Number);
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const out = { vw, scrollWidth: document.documentElement.scrollWidth, images: [], lowContrast: [] };
  for (const img of document.images) {
    const r = img.getBoundingClientRect();
    if (r.width === 0) continue;
    out.images.push({
      src: img.getAttribute('src'),
      left: r.left,
      right: r.right,
      width: r.width,
      loaded: img.complete && img.naturalWidth > 0,
      attrWidth: Number(img.getAttribute('width') || 0),
      column: img.closest('div[style*="padding:20px"]')?.clientWidth - 40,
    });
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || seen.has(el)) continue;
    seen.add(el);
    const r = el.getBoundingClientRect();
    const st = getComputedStyle(el);
    if (r.width === 0 || r.height === 0 || st.visibility === 'hidden') continue;
    const fg = rgba(st.color).slice(0, 3);
    const L1 = lum(fg), L2 = lum(background(el));
    const ratio = (Math.max(L1, L2) + 0.05) / (Math.min(L1, L2) + 0.05);
    if (ratio < 4.5) out.lowContrast.push({ text: n.textContent.trim().slice(0, 40), ratio, color: st.color });
  }
  return out;
}

for (const [kind, r] of Object.entries(pages)) {
  for (const width of SHOWN) {
    await page.setViewportSize({ width, height: 900 });
    await page.goto(pathToFileURL(r.html).href);
    await page.waitForLoadState('load');
    const shot = path.join(artifacts, `mail-${kind}-${width}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    const m = await page.evaluate(measure);
    const label = `${kind} at ${width} px`;
    if (!CHECKED.includes(width) && width !== 1280) continue;
    check(m.scrollWidth <= m.vw, `${label}: horizontal scrolling (scrollWidth ${m.scrollWidth} > ${m.vw})`);
    check(m.images.length === r.images.length, `${label}: ${m.images.length} images shown of ${r.images.length}`);
    for (const im of m.images) {
      check(im.loaded, `${label}: image ${im.src} did not load`);
      check(im.left >= 0 && im.right <= m.vw + 0.5, `${label}: image ${im.src} outside the viewport ` +
        `(${im.left}..${im.right} of ${m.vw})`);
      // a body photo takes the whole column (up to its 560 px), whatever its figure
      if (kind === 'share' && im.attrWidth >= 560)
        check(im.width >= Math.min(560, im.column) - 1, `${label}: photo ${im.src} shrunk to ` +
          `${im.width} px in a ${im.column} px column`);
    }
    for (const c of m.lowContrast)
      check(false, `${label}: contrast ${c.ratio.toFixed(2)}:1 < 4.5:1 for "${c.text}" (${c.color})`);
  }
}
await browser.close();
browser = null;
if (failures.length) {
  console.error(`${failures.length} check(s) failed`);
  process.exit(1);
}
console.log('mails render at ' + CHECKED.join(', ') + ' px; screenshots in ' + artifacts);
