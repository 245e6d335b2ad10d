// Run a SvelteKit form action of the real frontend as the browser would (its server code builds the API call).
// usage: node act.mjs email password /path action key=value ...
const API = 'http://localhost:8000', FE = 'http://127.0.0.1:5173';
const [email, password, path, action, ...kv] = process.argv.slice(2);
const r = await fetch(`${API}/api/auth/login/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
const tok = await r.json();
const org = JSON.parse(Buffer.from(tok.access_token.split('.')[1], 'base64url')).org_id;
const form = new URLSearchParams();
for (const p of kv) { const i = p.indexOf('='); form.append(p.slice(0, i), p.slice(i + 1)); }
const res = await fetch(`${FE}${path}?/${action}`, { method: 'POST', redirect: 'manual', headers: {
  origin: FE, accept: 'application/json', 'x-sveltekit-action': 'true', 'content-type': 'application/x-www-form-urlencoded',
  cookie: `jwt_access=${tok.access_token}; jwt_refresh=${tok.refresh_token}; org=${org}` }, body: form });
console.log(res.status, (await res.text()).slice(0, 600));
