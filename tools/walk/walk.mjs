// Visit frontend pages with a logged-in admin; report API responses >= 400 and console errors.
import { chromium } from 'playwright-core';
const API = 'http://localhost:8000', FE = 'http://127.0.0.1:5173';
const [email, password, ...pages] = process.argv.slice(2);
const r = await fetch(`${API}/api/auth/login/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
const tok = await r.json();
const org = tok.current_org?.id ?? JSON.parse(Buffer.from(tok.access_token.split('.')[1], 'base64url')).org_id;
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
await ctx.addCookies([
  { name: 'jwt_access', value: tok.access_token, url: FE }, { name: 'jwt_refresh', value: tok.refresh_token, url: FE },
  { name: 'org', value: org, url: FE }]);
await ctx.route(u => !/^https?:\/\/(localhost|127\.0\.0\.1)/.test(u.toString()), r => r.abort());
const page = await ctx.newPage();
page.setDefaultTimeout(120000);
page.on('console', m => { if (m.type() === 'error') console.log('  console:', m.text().slice(0, 300)); });
page.on('response', async res => { if (res.url().startsWith(API) && res.status() >= 400) console.log('  API', res.status(), res.request().method(), res.url(), (await res.text().catch(() => '')).slice(0, 300)); });
for (const p of pages) {
  console.log('PAGE', p);
  await page.goto(FE + p, { waitUntil: 'networkidle', timeout: 120000 }).catch(e => console.log('  goto:', e.message));
  await page.waitForTimeout(1000);
  const name = p.replace(/[^a-z0-9]+/gi, '_');
  await page.screenshot({ path: `/tmp/walk${name}.png`, fullPage: false }).catch(e => console.log('  shot:', e.message.slice(0, 80)));
  const body = await page.innerText('body').catch(() => '');
  for (const w of ['Failed', 'Error', 'error']) if (body.includes(w)) console.log('  text has', JSON.stringify(w), body.slice(body.indexOf(w) - 80, body.indexOf(w) + 120).replace(/\s+/g, ' '));
}
await browser.close();
