// A small SVG line chart (no dependencies): stacked panels, each with its own y axis and a few series.
export interface Series {
  name: string;
  points: Array<[number, number]>;
  color?: string;
  /** Dashed horizontal reference line instead of a polyline (points[0][1] is the level). */
  level?: boolean;
}

export interface Panel {
  title: string;
  yLabel: string;
  xLabel: string;
  series: Series[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
const W = 900;
const PH = 260;
const M = { l: 80, r: 20, t: 40, b: 40 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function nice(max: number): number {
  if (!(max > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

function fmt(v: number): string {
  if (Math.abs(v) >= 1e6) return `${+(v / 1e6).toFixed(2)}M`;
  if (Math.abs(v) >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  return `${+v.toFixed(2)}`;
}

export function chartSvg(title: string, panels: Panel[], note = ''): string {
  const H = 30 + panels.length * PH + (note ? 20 : 0);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<title>${esc(title)}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
  panels.forEach((p, pi) => {
    const top = 30 + pi * PH;
    const x0 = M.l;
    const x1 = W - M.r;
    const y0 = top + PH - M.b;
    const y1 = top + M.t;
    const all = p.series.flatMap((s) => s.points);
    const xs = p.series.filter((s) => !s.level).flatMap((s) => s.points.map((q) => q[0]));
    const xMin = xs.length ? Math.min(...xs) : 0;
    const xMax = xs.length ? Math.max(...xs) : 1;
    const yMax = nice(Math.max(0, ...all.map((q) => q[1])) * 1.05);
    const sx = (x: number) => x0 + ((x - xMin) / (xMax - xMin || 1)) * (x1 - x0);
    const sy = (y: number) => y0 - (y / yMax) * (y0 - y1);
    out.push(`<text x="${x0}" y="${top + 22}" font-weight="bold">${esc(p.title)}</text>`);
    out.push(
      `<line x1="${x0}" y1="${y0}" x2="${x1}" y2="${y0}" stroke="#333"/><line x1="${x0}" y1="${y0}" x2="${x0}" y2="${y1}" stroke="#333"/>`,
    );
    for (let i = 0; i <= 4; i++) {
      const v = (yMax * i) / 4;
      out.push(
        `<line x1="${x0}" y1="${sy(v)}" x2="${x1}" y2="${sy(v)}" stroke="#eee"/>`,
        `<text x="${x0 - 6}" y="${sy(v) + 4}" text-anchor="end">${fmt(v)}</text>`,
      );
      const xv = xMin + ((xMax - xMin) * i) / 4;
      out.push(`<text x="${sx(xv)}" y="${y0 + 16}" text-anchor="middle">${fmt(xv)}</text>`);
    }
    out.push(`<text x="${(x0 + x1) / 2}" y="${y0 + 32}" text-anchor="middle" fill="#555">${esc(p.xLabel)}</text>`);
    out.push(
      `<text x="18" y="${(y0 + y1) / 2}" text-anchor="middle" fill="#555" transform="rotate(-90 18 ${(y0 + y1) / 2})">${esc(p.yLabel)}</text>`,
    );
    p.series.forEach((s, si) => {
      const c = s.color ?? COLORS[si % COLORS.length];
      if (s.level) {
        const y = sy(s.points[0]?.[1] ?? 0);
        out.push(`<line x1="${x0}" y1="${y}" x2="${x1}" y2="${y}" stroke="${c}" stroke-dasharray="6 4"/>`);
      } else if (s.points.length > 0) {
        const d = s.points.map((q, i) => `${i ? 'L' : 'M'}${sx(q[0]).toFixed(1)},${sy(q[1]).toFixed(1)}`).join('');
        out.push(`<path d="${d}" fill="none" stroke="${c}" stroke-width="1.5"/>`);
      }
      out.push(
        `<rect x="${x1 - 250}" y="${y1 - 8 + si * 15}" width="10" height="3" fill="${c}"/>`,
        `<text x="${x1 - 235}" y="${y1 - 3 + si * 15}">${esc(s.name)}</text>`,
      );
    });
  });
  if (note) out.push(`<text x="${M.l}" y="${H - 6}" fill="#555">${esc(note)}</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
