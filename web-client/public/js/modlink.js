// The moderator link: where the secret comes from, where it is kept, and the invite link a
// moderator hands to a co-moderator. No DOM here (web-client/README.md, "The moderator link").
//
// The secret only ever travels in the URL fragment (#<code>.<secret>), which browsers never send to
// a server nor put in a Referer. The page reads it, keeps it per jam in localStorage (a new tab and a
// reload find it) and replaces the address bar with #<code>, so that the URL a moderator copies from
// the address bar, projects or bookmarks never holds it.

export const secretKey = (code) => `cojam.modsecret.${code}`;

// "#482913.s3cr3t", "#482-913", a whole pasted link "https://…/moderate.html#482913.s3cr3t" or a
// bare secret: returns {code, secret}, either may be null.
export function parseModLink(text) {
  const s = String(text || '').trim();
  const at = s.indexOf('#');
  const frag = at >= 0 ? s.slice(at + 1) : s;
  const m = /^(\d[\d-]*)(?:\.(.+))?$/.exec(frag);
  if (!m) return { code: null, secret: at >= 0 || !s ? null : s };
  let secret = null;
  if (m[2]) { try { secret = decodeURIComponent(m[2]); } catch { secret = m[2]; } }
  return { code: m[1].replace(/-/g, ''), secret };
}

function read(storage, key) { try { return storage ? storage.getItem(key) : null; } catch { return null; } }
function write(storage, key, v) { try { if (storage) storage.setItem(key, v); return read(storage, key) === v; } catch { return false; } }
function drop(storage, key) { try { if (storage) storage.removeItem(key); } catch { /* private mode */ } }

// Resolves the secret for the page at `hash`. `stores` is [localStorage, sessionStorage] (either may
// throw or be null). Returns {code, secret, clean}: `clean` is true when the secret may leave the
// address bar because a store now holds it.
export function resolveModLink(hash, stores) {
  const { code, secret } = parseModLink(hash);
  if (!code) return { code: null, secret: null, clean: false };
  const key = secretKey(code);
  if (secret) {
    let kept = false;
    for (const st of stores) kept = write(st, key, secret) || kept;
    return { code, secret, clean: kept };
  }
  for (const st of stores) {
    const v = read(st, key);
    if (v) return { code, secret: v, clean: true };
  }
  return { code, secret: null, clean: true };
}

// Forgets the secret of `code` in every store (a refused secret, or "Forget on this device").
export function forgetModLink(code, stores) {
  for (const st of stores) drop(st, secretKey(code));
}

// The invite link for a co-moderator: the page's own address with the secret in the fragment.
export function inviteLink(origin, code, secret) {
  return `${origin}/moderate.html#${code}.${encodeURIComponent(secret)}`;
}
