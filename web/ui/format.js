/*
 * format.js: times, durations, numbers and sizes as the page shows them,
 * and the page's own links.
 */

export const enc = encodeURIComponent;
export const runHref = (id, step) =>
  '#/runs/' + id + (step ? '/steps/' + enc(step) : '');
export const pipeHref = (name) => '#/pipelines/' + enc(name);

export const pad = (n) => String(n).padStart(2, '0');

export function fmtTime(ms) {
  if (!ms)
    return '—';
  const d = new Date(ms);
  return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' +
         pad(d.getDate()) + ' ' + pad(d.getHours()) + ':' +
         pad(d.getMinutes()) + ':' + pad(d.getSeconds());
}

export function ago(ms) {
  if (!ms)
    return '—';
  const d = Date.now() - ms, a = Math.abs(d);
  let s;
  if (a < 1500)
    return d < 0 ? 'now' : 'just now';
  if (a < 60e3)
    s = Math.round(a / 1e3) + ' s';
  else if (a < 60 * 60e3)
    s = Math.round(a / 60e3) + ' min';
  else if (a < 36 * 3600e3)
    s = Math.round(a / 3600e3) + ' h';
  else
    s = Math.round(a / 86400e3) + ' d';
  return d < 0 ? 'in ' + s : s + ' ago';
}

export function dur(ms) {
  if (ms == null || ms < 0 || Number.isNaN(ms))
    return '—';
  if (ms < 1000)
    return Math.round(ms) + ' ms';
  const s = ms / 1000;
  if (s < 60)
    return (s < 10 ? s.toFixed(1) : Math.round(s)) + ' s';
  const m = Math.floor(s / 60);
  if (m < 60)
    return m + ' min ' + pad(Math.floor(s % 60)) + ' s';
  return Math.floor(m / 60) + ' h ' + pad(m % 60) + ' min';
}

/* A period as written in a pipeline: 2s, 5m, 1h30m. */
export function period(ms) {
  if (!ms)
    return '0s';
  const units = [['d', 86400e3], ['h', 3600e3], ['m', 60e3], ['s', 1e3],
                 ['ms', 1]];
  let out = '';
  for (const [u, n] of units) {
    if (ms >= n) {
      out += Math.floor(ms / n) + u;
      ms %= n;
    }
  }
  return out;
}

export function num(v) {
  if (v == null || (typeof v === 'number' && Number.isNaN(v)))
    return '—';
  if (typeof v !== 'number')
    return String(v);
  if (Number.isInteger(v))
    return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e7))
    return v.toExponential(3);
  return String(+v.toPrecision(4));
}

export function bytes(n) {
  if (n == null)
    return '—';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return (i ? n.toFixed(1) : n) + ' ' + u[i];
}

export const basename = (p) => String(p || '').replace(/\/+$/, '').split('/').pop();
export const runTime = (r) => r.started_at ? (r.finished_at || Date.now()) -
                                      r.started_at : null;
