// The public pages' refusals as a reader on a phone meets them (Chromium,
// 390×844, JavaScript off): each refusal of the share and subscribe forms
// is in Vietnamese (the catalogue's words, never the server's English), is
// shown beside the field at fault, which is marked (aria-invalid,
// aria-describedby pointing at the message) and focused when it is the
// first one, and is linked from a summary at the top of the page, inside
// the first screen. Then the phone layout: the share form's "Gửi email"
// button lies inside the first screen, "Thêm người nhận" opens one more
// box at a time up to the limit without JavaScript; and a second submit of
// the same form (a double click, the same POST again) gives the same
// thank-you page and one share (rows in the database). Screenshots of
// every page at 390 and 1280 px go to $MAILER_BUILD_DIR/artifacts/.
import fs from 'node:fs';
import path from 'node:path';

import { Harness, SOURCE, check } from './harness.mjs';

const SAMPLE = path.join(SOURCE, 'examples/articles/ha-giang-tong-ket-thi-dua-2021.json');
const article = JSON.parse(fs.readFileSync(SAMPLE, 'utf8'));
const MAX = 5;
const NOTE_MAX = 60;

const h = await Harness.start('browser.errors', {
  limits: {
    share_max_recipients: MAX,
    share_note_max_chars: NOTE_MAX,
    share_per_ip_per_hour: 1000,
    share_per_sender_per_hour: 1000,
  },
});
h.mailer('article', 'add', SAMPLE);
h.mailer('list', 'create', 'tin-tuc', '--name', 'Bản tin Hà Giang', '--optin', 'double', '--public',
  '--description', 'Tin mới mỗi tuần');
h.mailer('list', 'create', 'van-hoa', '--name', 'Văn hóa – Du lịch', '--optin', 'single', '--public');
h.mailer('list', 'create', 'noi-bo', '--name', 'Thử nghiệm nội bộ');
await h.serve();
const SHARE = `${h.base}/share/${encodeURIComponent(article.id)}`;

// What the page says about one field, and where the focus is.
async function fieldState(page, id) {
  return page.evaluate((fid) => {
    const el = document.getElementById(fid);
    const ids = (el && el.getAttribute('aria-describedby')) || '';
    const msgs = ids
      .split(/\s+/)
      .map((x) => document.getElementById(x))
      .filter((m) => m && m.classList.contains('field-error'))
      .map((m) => m.textContent.trim());
    const sum = document.querySelector('.error-summary');
    const r = sum ? sum.getBoundingClientRect() : null;
    return {
      invalid: el && el.getAttribute('aria-invalid'),
      message: msgs.join(' '),
      focused: document.activeElement ? document.activeElement.id : null,
      summary: sum ? sum.textContent.replace(/\s+/g, ' ').trim() : null,
      summaryLinks: sum ? [...sum.querySelectorAll('a')].map((a) => a.getAttribute('href')) : [],
      summaryTop: r ? r.top + window.scrollY : null,
      summaryRole: sum ? sum.getAttribute('role') : null,
      title: document.title,
    };
  }, id);
}

// Nothing a reader reads is the server's English.
function vietnamese(text, what) {
  check(text && /[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹàáèéìíòóùúý]/i.test(text),
    what + ': not Vietnamese: ' + JSON.stringify(text));
  for (const w of ['domain', 'local part', 'SMTPUTF8', 'RFC', 'octets', 'invalid', 'recipient', 'links are'])
    check(!text.includes(w), what + ': developer English "' + w + '" in ' + JSON.stringify(text));
}

// Expects the field `id` to be refused with words matching `re`, focused when `focus`.
async function expectRefused(page, id, re, what, focus = true) {
  // autofocus is applied when the browser next renders the loaded page, not at load:
  // wait for it (a focus that never comes still fails below, with what has the focus)
  if (focus)
    await page
      .waitForFunction((i) => document.activeElement && document.activeElement.id === i, id, { timeout: 10000 })
      .catch(() => {});
  const s = await fieldState(page, id);
  check(s.invalid === 'true', what + ': #' + id + ' not aria-invalid: ' + JSON.stringify(s));
  check(re.test(s.message), what + ': message beside #' + id + ': ' + JSON.stringify(s.message));
  vietnamese(s.message, what);
  if (focus) check(s.focused === id, what + ': focus on ' + s.focused + ', not #' + id);
  check(s.summary && s.summaryRole === 'alert', what + ': no summary: ' + JSON.stringify(s));
  check(s.summaryLinks.includes('#' + id), what + ': summary does not link #' + id + ': ' + s.summaryLinks);
  check(s.summaryTop !== null && s.summaryTop < 300, what + ': summary not at the top: ' + s.summaryTop);
  check(s.title.startsWith('Lỗi'), what + ': title does not say so: ' + s.title);
  return s;
}

async function share(page, fields) {
  await page.goto(SHARE);
  for (const [label, value] of fields) await page.locator('#' + label).fill(value);
  await submit(page, page.locator('#send'));
}

const shares = () => Number(h.sql('SELECT count(*) FROM share_log'));

// Clicks a submit button and waits for the page it leads to (not the one we are on).
async function submit(page, button) {
  const nav = page.waitForEvent('framenavigated', (f) => f === page.mainFrame());
  await button.click();
  await nav;
  await page.waitForLoadState('load');
}

// ---- the share form on a phone: the first screen holds the button ----
let page = await h.page({ width: 390, height: 844 });
let resp = await page.goto(SHARE);
check(resp.status() === 200, 'share form: ' + resp.status());
const btn = await page.locator('#send').boundingBox();
check(btn && btn.y >= 0 && btn.y + btn.height <= 844, 'send button outside the first screen: ' + JSON.stringify(btn));
check(await page.locator('#to1').isVisible(), 'the first recipient box is visible');
check(!(await page.locator('#to2').isVisible()), 'a second box is shown before it is asked for');
await h.shot(page, 'share-390');
await h.shot(page, 'share-390-first-screen', false);
// "+ Thêm người nhận" without JavaScript, one box at a time, up to the limit
for (let n = 2; n <= MAX; n++) {
  const more = page.locator('summary', { hasText: 'Thêm người nhận' }).filter({ visible: true });
  check((await more.count()) === 1, 'one "Thêm người nhận" before box ' + n + ': ' + (await more.count()));
  await more.click();
  check(await page.locator('#to' + n).isVisible(), 'box ' + n + ' opened');
  check(!(await page.locator('#to' + (n + 1)).isVisible()), 'box ' + (n + 1) + ' opened too early');
}
check((await page.locator('summary', { hasText: 'Thêm người nhận' }).filter({ visible: true }).count()) === 0,
  'a "Thêm người nhận" past the limit of ' + MAX);
await h.shot(page, 'share-390-five-recipients');

// ---- each refusal of the share form ----
const sender = [['sender_name', 'Nguyễn Thị Hoa'], ['sender_email', 'hoa@example.vn']];
const cases = [
  ['to1', [['to1', 'dong.nghiep.example.vn'], ...sender], /thiếu dấu @/, 'no @'],
  ['to1', [['to1', 'dong.nghiep@example'], ...sender], /Tên miền sau dấu @ chưa đầy đủ/, 'no dot'],
  ['to1', [['to1', 'người.nhận@example.vn'], ...sender], /không dấu/, 'accented local part'],
  ['to1', [['to1', 'Đồng Nghiệp <dn@example.vn>'], ...sender], /không kèm tên/, 'display name'],
  ['to1', [['to1', 'dn@example..vn'], ...sender], /dấu chấm đặt sai chỗ/, 'two dots'],
  ['to1', [['to1', 'dn @example.vn'], ...sender], /dấu cách/, 'a space'],
  ['to1', [['to1', ''], ...sender], /nhập địa chỉ email của người nhận/, 'no recipient'],
  ['sender_email', [['to1', 'dn@example.vn'], ['sender_name', 'Hoa']], /nhập email của bạn/, 'no sender'],
  ['sender_email', [['to1', 'dn@example.vn'], ['sender_email', 'hoa@@example.vn']], /một dấu @/, 'two @'],
  ['sender_name', [['to1', 'dn@example.vn'], ['sender_name', 'Hoa xem www.quang-cao.example'],
    ['sender_email', 'hoa@example.vn']], /đường dẫn/, 'a link in the name'],
];
const before = shares();
for (const [id, fields, re, what] of cases) {
  await share(page, fields);
  check(page.url() === SHARE, what + ': left the form for ' + page.url());
  await expectRefused(page, id, re, what);
  // the values typed are kept (a note over the limit cannot be typed: the box stops at
  // note_max characters; the server's refusal of a longer one is checked in tests/http)
  for (const [f, v] of fields)
    check((await page.locator('#' + f).inputValue()) === v, what + ': #' + f + ' lost its value');
}
await h.shot(page, 'share-390-error-name');
// several at once: every field marked, the focus on the first, the summary lists them all
await share(page, [['to1', 'dn@example'], ['sender_name', 'Hoa'], ['sender_email', 'hoa.example.vn']]);
let s = await expectRefused(page, 'to1', /chưa đầy đủ/, 'two errors');
await expectRefused(page, 'sender_email', /thiếu dấu @/, 'two errors (second)', false);
check(s.summaryLinks.length === 2, 'the summary lists both: ' + s.summaryLinks);
const sumBox = await page.locator('.error-summary').boundingBox();
check(sumBox && sumBox.y + sumBox.height <= 844, 'the summary is not in the first screen: ' + JSON.stringify(sumBox));
await h.shot(page, 'share-390-errors');
await h.shot(page, 'share-390-errors-first-screen', false);
// an error in the third box: the boxes up to it are open, it is the one marked and focused
await page.goto(SHARE);
await page.locator('#to1').fill('mot@example.vn');
await page.locator('summary', { hasText: 'Thêm người nhận' }).filter({ visible: true }).click();
await page.locator('#to2').fill('hai@example.vn');
await page.locator('summary', { hasText: 'Thêm người nhận' }).filter({ visible: true }).click();
await page.locator('#to3').fill('ba@example');
await page.locator('#sender_email').fill('hoa@example.vn');
await submit(page, page.locator('#send'));
check(await page.locator('#to3').isVisible(), 'box 3 shown again');
check((await page.locator('#to1').getAttribute('aria-invalid')) === null, 'box 1 marked wrongly');
await expectRefused(page, 'to3', /chưa đầy đủ/, 'third box');
check(!(await page.locator('#to4').isVisible()), 'box 4 opened by the refusal');
check(shares() === before, 'a refused form made a share');

// ---- a second submit of the same form: one share, the same thank-you page ----
await page.goto(SHARE);
await page.locator('#to1').fill('lan.mot@example.vn');
await page.locator('#sender_email').fill('hoa@example.vn');
let posted = null;
page.on('request', (r) => {
  if (r.method() === 'POST' && !posted) posted = { url: r.url(), body: r.postData(), headers: r.headers() };
});
// (the second click aborts the first navigation: Chromium sends the form twice)
await page.locator('#send').dblclick();
await h.waitFor(async () => /\/sent$/.test(page.url()), 'the thank-you page after a double click');
await page.waitForLoadState('load');
check((await page.locator('h1').textContent()).includes('Cảm ơn'), 'thank-you page after a double click');
await h.waitFor(async () => shares() === before + 1, 'the share of the double click');
await h.shot(page, 'share-sent-390');
// the very same POST again (the back button and "send", a retry after a slow answer)
const again = await page.request.post(posted.url, {
  headers: { 'content-type': posted.headers['content-type'] },
  data: posted.body,
  maxRedirects: 0,
});
check(again.status() === 303 && /\/sent$/.test(again.headers().location || ''),
  'the same form again: ' + again.status() + ' ' + again.headers().location);
// the back button: when Chromium shows the same form again (its back-forward cache), sending it
// is the same form; when it loads the page anew, that is a new form and may well be a new share
await page.goBack();
const postedFid = new URLSearchParams(posted.body).get('fid');
if ((await page.locator('input[name=fid]').count()) === 1 &&
    (await page.locator('input[name=fid]').inputValue()) === postedFid) {
  await submit(page, page.locator('#send'));
  check((await page.locator('h1').textContent()).includes('Cảm ơn'), 'back and send again: thank-you page');
} else {
  console.log('note: the back button loaded a new form (no back-forward cache): not sent again');
}
check(shares() === before + 1, 'one form made ' + (shares() - before) + ' shares');
// two submits of one form at the same moment (two taps that both reach the server): one share
await page.goto(SHARE);
const form = {
  csrf: await page.locator('input[name=csrf]').inputValue(),
  fid: await page.locator('input[name=fid]').inputValue(),
  to: 'lan.hai@example.vn',
  sender_email: 'hoa@example.vn',
  website: '',
};
const both = await Promise.all([0, 1].map(() => page.request.post(SHARE, { form, maxRedirects: 0 })));
for (const r of both)
  check(r.status() === 303 && /\/sent$/.test(r.headers().location || ''), 'a simultaneous submit: ' + r.status());
check(shares() === before + 2, 'two simultaneous submits of one form made ' + (shares() - before - 1) + ' shares');
check(h.sql("SELECT count(*) FROM envelopes WHERE recipient = 'lan.hai@example.vn'") === '1',
  'envelopes of the simultaneous submits');
check(h.sql("SELECT count(*) FROM envelopes WHERE recipient = 'lan.mot@example.vn'") === '1',
  'envelopes for the one share: ' + h.sql("SELECT count(*) FROM envelopes WHERE recipient = 'lan.mot@example.vn'"));

// ---- the subscribe form ----
const sub = async (pg, fields, list) => {
  await pg.goto(h.base + '/subscribe');
  if (list) await pg.locator('#list-' + list).check();
  for (const [id, v] of fields) await pg.locator('#' + id).fill(v);
  await submit(pg, pg.getByRole('button', { name: 'Đăng ký' }));
};
await page.goto(h.base + '/subscribe');
check((await page.locator('input[name=list]').count()) === 2, 'only the two public lists are offered');
await h.shot(page, 'subscribe-390');
await sub(page, [['email', '']], null);
s = await expectRefused(page, 'list-tin-tuc', /chọn bản tin/, 'no list chosen');
await expectRefused(page, 'email', /nhập địa chỉ email/, 'no list, no address (second)', false);
await h.shot(page, 'subscribe-390-errors');
await sub(page, [['email', 'ban.doc@example']], 'tin-tuc');
await expectRefused(page, 'email', /chưa đầy đủ/, 'subscribe: no dot');
check((await page.locator('#list-tin-tuc').isChecked()), 'the chosen list is kept');
// (a name the form refuses cannot be typed here: the box stops at 200 characters and
// takes one line; tests/http checks the refusal of a longer one)
// a list made private after the page was shown: refused on the list, nothing stored
await page.goto(h.base + '/subscribe');
await page.locator('#list-van-hoa').check();
await page.locator('#email').fill('ban.doc@example.vn');
h.mailer('list', 'set', 'van-hoa', '--private');
await submit(page, page.getByRole('button', { name: 'Đăng ký' }));
await expectRefused(page, 'list-tin-tuc', /không còn nhận đăng ký/, 'subscribe: list gone private');
check(h.sql('SELECT count(*) FROM subscriptions') === '0', 'a refused subscribe stored something');
// the answer is one page for every outcome, in words true for each
await sub(page, [['email', 'ban.doc@example.vn']], 'tin-tuc');
const answer = await page.locator('main').textContent();
check(/Đã nhận yêu cầu đăng ký/.test(answer) && /đã đăng ký từ trước/.test(answer), 'subscribe answer: ' + answer);
await h.shot(page, 'subscribed-390');
h.sql("UPDATE subscriptions SET status = 'confirmed'");
await sub(page, [['email', 'ban.doc@example.vn']], 'tin-tuc');
check((await page.locator('main').textContent()) === answer, 'an already confirmed reader gets another page');

// ---- the same pages on a desktop ----
page = await h.page({ width: 1280, height: 900 });
await page.goto(SHARE);
await h.shot(page, 'share-1280');
await share(page, [['to1', 'dn@example'], ['sender_email', 'hoa.example.vn']]);
await expectRefused(page, 'to1', /chưa đầy đủ/, 'desktop');
await h.shot(page, 'share-1280-errors');
await page.goto(h.base + '/subscribe');
await h.shot(page, 'subscribe-1280');
await sub(page, [['email', '']], null);
await h.shot(page, 'subscribe-1280-errors');
await sub(page, [['email', 'ban.doc.2@example.vn']], 'tin-tuc');
await h.shot(page, 'subscribed-1280');
await page.goto(`${h.base}/share/${encodeURIComponent(article.id)}/sent`);
await h.shot(page, 'share-sent-1280');
resp = await page.goto(h.base + '/share/khong-co-bai-nay');
check(resp.status() === 404, 'unknown article: ' + resp.status());
vietnamese(await page.locator('main').textContent(), 'unknown article page');
await h.shot(page, 'error-404-1280');

await h.stop();
console.log('ok; screenshots in ' + path.join(process.env.MAILER_BUILD_DIR || '', 'artifacts'));
