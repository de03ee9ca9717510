/** One bar: a program and its ratio to the floor (1.0 = as fast / as small as the floor). */
export interface Bar {
  readonly label: string;
  readonly value: number;
  /** Whether the panel's target applies to this bar (default true); a reference bar is drawn grey. */
  readonly judged?: boolean;
}

/** One panel of the chart: bars on a common scale, with an optional target line. */
export interface Panel {
  readonly title: string;
  readonly bars: readonly Bar[];
  /** Drawn as a dashed line labelled "target"; bars beyond it are drawn in the warning colour. */
  readonly target?: number;
}

const WIDTH = 720;
const LABEL_WIDTH = 230;
const BAR_HEIGHT = 22;
const GAP = 8;
const TITLE_HEIGHT = 28;
const PANEL_GAP = 18;
const AXIS_HEIGHT = 18;

/** Escapes text for SVG content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const fmt = (n: number): string => (Number.isFinite(n) ? `${n.toFixed(2)}x` : "n/a");

/**
 * A horizontal bar chart as a standalone SVG document: one panel per metric, bars scaled to
 * the largest value (or target) over all panels so that panels compare at a glance, the floor
 * (1.0x) and each panel's target drawn as vertical lines.
 *
 * @example
 *   barChart("bin/node vs the floor", [{ title: "wall time", target: 2, bars: [{ label: "bin/node", value: 1.8 }] }]);
 */
export function barChart(title: string, panels: readonly Panel[]): string {
  const finite = panels.flatMap((p) => [...p.bars.map((b) => b.value), p.target ?? 0]).filter(Number.isFinite);
  const max = Math.max(1, ...finite) * 1.12;
  const plot = WIDTH - LABEL_WIDTH - 20;
  const x = (v: number): number => LABEL_WIDTH + (Math.min(v, max) / max) * plot;
  const parts: string[] = [];
  let y = 34;
  for (const panel of panels) {
    parts.push(`<text x="10" y="${y + 16}" class="panel">${escapeXml(panel.title)}</text>`);
    y += TITLE_HEIGHT;
    const top = y;
    for (const bar of panel.bars) {
      const judged = bar.judged !== false;
      const over = judged && panel.target !== undefined && bar.value > panel.target;
      const w = Number.isFinite(bar.value) ? Math.max(1, x(bar.value) - LABEL_WIDTH) : 0;
      parts.push(
        `<text x="${LABEL_WIDTH - 8}" y="${y + 15}" text-anchor="end">${escapeXml(bar.label)}</text>`,
        `<rect x="${LABEL_WIDTH}" y="${y}" width="${w.toFixed(1)}" height="${BAR_HEIGHT}" class="${over ? "over" : judged ? "bar" : "ref"}"/>`,
        `<text x="${(LABEL_WIDTH + w + 6).toFixed(1)}" y="${y + 15}">${fmt(bar.value)}</text>`,
      );
      y += BAR_HEIGHT + GAP;
    }
    const bottom = y - GAP;
    parts.push(`<line x1="${x(1).toFixed(1)}" y1="${top - 4}" x2="${x(1).toFixed(1)}" y2="${bottom + 4}" class="floor"/>`);
    if (panel.target !== undefined) {
      const tx = x(panel.target).toFixed(1);
      parts.push(
        `<line x1="${tx}" y1="${top - 4}" x2="${tx}" y2="${bottom + 4}" class="target"/>`,
        `<text x="${tx}" y="${bottom + AXIS_HEIGHT - 2}" text-anchor="middle" class="note">target ${fmt(panel.target)}</text>`,
      );
    }
    y = bottom + AXIS_HEIGHT + PANEL_GAP;
  }
  const height = y;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="13">`,
    "<style>.bar{fill:#4a7fb5}.over{fill:#c8553d}.ref{fill:#9a9a9a}.floor{stroke:#333;stroke-width:1}.target{stroke:#c8553d;stroke-dasharray:5 4;stroke-width:1.5}.panel{font-weight:bold}.note{fill:#c8553d;font-size:11px}</style>",
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}
