import { Resvg } from '@resvg/resvg-js';
import * as echarts from 'echarts';
import type { SloReport } from './model.js';

export const CHART_WIDTH = 640;
export const CHART_HEIGHT = 240;

/**
 * The burn-down of one SLO's error budget over the SLO period ending at the week's end, against the
 * ideal straight line (the budget spent evenly, reaching 0% at the period's end), the week shaded.
 * Rendered on the server by Apache ECharts' SSR mode (no DOM, no browser) as an SVG string.
 * Null when there are no figures (Prometheus unavailable).
 */
export function burnDownSvg(slo: SloReport, weekStart: string): string | null {
  const burnDown = slo.figures.burnDown;
  if (burnDown === null) return null;
  const start = Date.parse(burnDown.periodStart);
  const end = Date.parse(burnDown.periodEnd);
  const values = burnDown.points.map(([t, remaining]) => [t, Math.round(remaining * 1000) / 10]);
  const lowest = Math.min(0, ...values.map(([, value]) => value!));
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: CHART_WIDTH, height: CHART_HEIGHT });
  try {
    chart.setOption({
      animation: false,
      backgroundColor: '#ffffff',
      textStyle: { fontFamily: 'DejaVu Sans, Helvetica, Arial, sans-serif' },
      title: { text: `${slo.name}: error budget left over ${slo.period}`, left: 8, top: 4, textStyle: { fontSize: 13, fontWeight: 'bold', color: '#1f2933' } },
      legend: { right: 8, top: 4, itemWidth: 18, textStyle: { fontSize: 11 }, data: ['budget left', 'ideal'] },
      grid: { left: 48, right: 16, top: 36, bottom: 28 },
      xAxis: { type: 'time', min: start, max: end, axisLabel: { fontSize: 10, hideOverlap: true }, splitLine: { show: false } },
      yAxis: { type: 'value', min: Math.floor(lowest / 25) * 25, max: 100, interval: 25, axisLabel: { formatter: '{value}%', fontSize: 10 } },
      series: [
        {
          name: 'budget left',
          type: 'line',
          showSymbol: false,
          data: values,
          lineStyle: { width: 2, color: '#2563eb' },
          itemStyle: { color: '#2563eb' },
          areaStyle: { color: 'rgba(37,99,235,0.08)' },
          markArea: { silent: true, itemStyle: { color: 'rgba(245,158,11,0.12)' }, data: [[{ xAxis: Date.parse(weekStart) }, { xAxis: end }]] },
          markLine: { silent: true, symbol: 'none', lineStyle: { color: '#dc2626', type: 'dotted', width: 1 }, label: { show: false }, data: [{ yAxis: 0 }] },
        },
        {
          name: 'ideal',
          type: 'line',
          showSymbol: false,
          data: [
            [start, 100],
            [end, 0],
          ],
          lineStyle: { width: 1.5, type: 'dashed', color: '#6b7280' },
          itemStyle: { color: '#6b7280' },
        },
      ],
    });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

/**
 * The chart as PNG, for mail: Gmail, Outlook and most webmail block inline SVG and SVG images, while
 * every client shows a PNG attached inline (Content-ID). Rendered at twice the size for sharp screens.
 */
export function svgToPng(svg: string): Buffer {
  return new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, background: '#ffffff' })
    .render()
    .asPng();
}
