// The run report's chart: held-out accuracy per round, one line per cohort, as a standalone SVG
// (no dependencies; opens in any browser).

import type { ExperimentReport } from './experiment-report.ts';

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function accuracyChartSvg(report: ExperimentReport): string {
  const W = 720;
  const H = 420;
  const m = { left: 60, right: 170, top: 40, bottom: 50 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const series = report.cohorts.map((c) => ({
    label: `cohort ${c.cohort} (${c.intent}, ${c.clients} clients)`,
    points: c.history
      .filter((h) => h.accuracy !== undefined)
      .map((h) => [h.round, h.accuracy as number] as const),
  }));
  const maxRound = Math.max(1, ...series.flatMap((s) => s.points.map((p) => p[0])));
  const accs = series.flatMap((s) => s.points.map((p) => p[1]));
  const lo = accs.length > 0 ? Math.max(0, Math.floor(Math.min(...accs) * 10) / 10) : 0;
  const x = (r: number) => m.left + (maxRound === 1 ? pw / 2 : ((r - 1) / (maxRound - 1)) * pw);
  const y = (a: number) => m.top + ph - ((a - lo) / (1 - lo || 1)) * ph;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${m.left}" y="22" font-size="15">Held-out accuracy per round — run ${esc(report.runId)} (${report.backend})</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const a = lo + ((1 - lo) * i) / 5;
    parts.push(
      `<line x1="${m.left}" x2="${m.left + pw}" y1="${y(a).toFixed(1)}" y2="${y(a).toFixed(1)}" stroke="#ddd"/>`,
      `<text x="${m.left - 8}" y="${(y(a) + 4).toFixed(1)}" text-anchor="end">${a.toFixed(2)}</text>`,
    );
  }
  const step = Math.max(1, Math.ceil(maxRound / 10));
  for (let r = 1; r <= maxRound; r += step) {
    parts.push(`<text x="${x(r).toFixed(1)}" y="${m.top + ph + 18}" text-anchor="middle">${r}</text>`);
  }
  parts.push(
    `<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${m.top + ph}" stroke="#333"/>`,
    `<line x1="${m.left}" x2="${m.left + pw}" y1="${m.top + ph}" y2="${m.top + ph}" stroke="#333"/>`,
    `<text x="${m.left + pw / 2}" y="${H - 12}" text-anchor="middle">round</text>`,
    `<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">accuracy</text>`,
  );
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    if (s.points.length > 0) {
      const d = s.points
        .map((p, k) => `${k === 0 ? 'M' : 'L'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`)
        .join(' ');
      parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
      for (const p of s.points) {
        parts.push(`<circle cx="${x(p[0]).toFixed(1)}" cy="${y(p[1]).toFixed(1)}" r="3" fill="${color}"/>`);
      }
    }
    const ly = m.top + 10 + i * 18;
    parts.push(
      `<rect x="${m.left + pw + 14}" y="${ly - 9}" width="12" height="12" fill="${color}"/>`,
      `<text x="${m.left + pw + 32}" y="${ly + 1}">${esc(s.label)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
