// Countdown formatting and a single shared ticker.

export function formatMs(ms) {
  if (ms === null || ms === undefined) return '';
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, '0');
  if (h > 0) return `${h}:${String(m).padStart(2, '0')}:${ss}`;
  return `${m}:${ss}`;
}

// Calls fn() every `ms` milliseconds (and once at once). Returns a stop function.
export function ticker(fn, ms = 250) {
  fn();
  const id = setInterval(fn, ms);
  return () => clearInterval(id);
}
