/*
 * lightweight-charts wrappers: a candle chart with price lines and markers, and an equity +
 * drawdown chart, both with UTC time axes. Values arrive as decimal strings and are turned into
 * numbers for plotting only.
 */
import { useEffect, useRef } from 'react';
import {
  AreaSeries,
  CandlestickSeries,
  ColorType,
  createChart,
  createSeriesMarkers,
  LineSeries,
  LineStyle,
  type IChartApi,
  type ISeriesApi,
  type SeriesMarker,
  type Time,
  type UTCTimestamp,
} from 'lightweight-charts';
import { chartTime, plot } from '../format';

export const COLORS = {
  up: '#26a69a',
  down: '#ef5350',
  entry: '#4ea1ff',
  stop: '#ff9800',
  takeProfit: '#26a69a',
  liquidation: '#ff1744',
  equity: '#4ea1ff',
  drawdown: '#ef5350',
  breaker: '#ffca28',
};

const base = {
  layout: { background: { type: ColorType.Solid, color: '#10151c' }, textColor: '#aab4c0', fontSize: 11 },
  grid: { vertLines: { color: '#1c2430' }, horzLines: { color: '#1c2430' } },
  timeScale: { timeVisible: true, secondsVisible: false, borderColor: '#2a3442' },
  rightPriceScale: { borderColor: '#2a3442' },
  localization: { timeFormatter: (t: number) => new Date(t * 1000).toISOString().slice(0, 16).replace('T', ' ') },
  autoSize: true,
};

/** A price level drawn across the chart (entry, stop, take-profit, liquidation). */
export interface PriceLevel {
  price: string;
  title: string;
  color: string;
  dashed?: boolean;
}

/** A marker on the candles (an entry, an exit, a breaker), at a bar's time. */
export interface ChartMarker {
  ts: number;
  position: 'aboveBar' | 'belowBar' | 'inBar';
  shape: 'arrowUp' | 'arrowDown' | 'circle' | 'square';
  color: string;
  text: string;
}

/** OHLC bar for the chart: epoch ms and decimal strings. */
export interface Bar {
  openTime: number;
  open: string;
  high: string;
  low: string;
  close: string;
}

function useChart(): [React.RefObject<HTMLDivElement | null>, React.RefObject<IChartApi | null>] {
  const el = useRef<HTMLDivElement | null>(null);
  const chart = useRef<IChartApi | null>(null);
  useEffect(() => {
    if (!el.current) return;
    // autoSize follows the container, whose height is fixed by the element's style (see the components).
    chart.current = createChart(el.current, base);
    return () => {
      const c = chart.current;
      // Cleared first: the series effects' cleanups, which may run after this one, see the chart is gone.
      chart.current = null;
      c?.remove();
    };
  }, []);
  return [el, chart];
}

/** Markers must be sorted by time; several on one bar are kept. */
function toMarkers(markers: readonly ChartMarker[], bars: readonly Bar[]): SeriesMarker<Time>[] {
  if (!bars.length) return [];
  // Snap each marker to the bar holding its time so it shows on downsampled candles too.
  const times = bars.map((b) => b.openTime);
  const snap = (ts: number) => {
    let lo = 0;
    let hi = times.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (times[mid] <= ts) lo = mid;
      else hi = mid - 1;
    }
    return times[lo];
  };
  return [...markers]
    .sort((a, b) => a.ts - b.ts)
    .map((m) => ({ time: chartTime(snap(m.ts)) as UTCTimestamp, position: m.position, shape: m.shape, color: m.color, text: m.text }));
}

/**
 * Candles with horizontal price lines and markers.
 * @param live a mark price to move the last candle's close (a live tick), optional
 */
export function PriceChart(props: { bars: readonly Bar[]; levels?: readonly PriceLevel[]; markers?: readonly ChartMarker[]; height?: number; testId?: string; live?: { price: string; ts: number } | null }) {
  const [el, chart] = useChart();
  const series = useRef<ISeriesApi<'Candlestick'> | null>(null);
  const { bars, levels, markers, live } = props;
  useEffect(() => {
    const c = chart.current;
    if (!c) return;
    const s = c.addSeries(CandlestickSeries, { upColor: COLORS.up, downColor: COLORS.down, wickUpColor: COLORS.up, wickDownColor: COLORS.down, borderVisible: false });
    series.current = s;
    s.setData(bars.map((b) => ({ time: chartTime(b.openTime) as UTCTimestamp, open: plot(b.open), high: plot(b.high), low: plot(b.low), close: plot(b.close) })));
    for (const l of levels ?? []) {
      s.createPriceLine({ price: plot(l.price), color: l.color, lineWidth: 1, lineStyle: l.dashed ? LineStyle.Dashed : LineStyle.Solid, axisLabelVisible: true, title: l.title });
    }
    const plugin = createSeriesMarkers(s, toMarkers(markers ?? [], bars));
    c.timeScale().fitContent();
    return () => {
      series.current = null;
      // On unmount useChart's cleanup may have removed the chart first, its series with it:
      // removing them again throws in lightweight-charts ("Value is undefined").
      if (chart.current !== c) return;
      plugin.detach();
      c.removeSeries(s);
    };
  }, [chart, bars, levels, markers]);
  useEffect(() => {
    const s = series.current;
    const last = bars[bars.length - 1];
    if (!s || !live || !last) return;
    const p = plot(live.price);
    // A tick inside the last bar moves its close (and extends high/low); a later one is shown as its own bar.
    const t = chartTime(live.ts) >= chartTime(last.openTime) ? chartTime(last.openTime) : null;
    if (t !== null) s.update({ time: t as UTCTimestamp, open: plot(last.open), high: Math.max(plot(last.high), p), low: Math.min(plot(last.low), p), close: p });
  }, [live, bars]);
  return <div className="chart" ref={el} style={{ height: props.height ?? 320 }} data-testid={props.testId ?? 'price-chart'} />;
}

/** A point of an equity curve: epoch ms, USDT. */
export interface EquitySample {
  ts: number;
  equity: string;
  /** Drawdown from the running peak as the server computed it: USDT, or a fraction (0.05 = 5 %) when the chart's unit is %. */
  drawdown: string;
}

/** Lightweight-charts needs strictly increasing times: keep the last value of each second. */
function lastPerSecond<T extends { ts: number }>(points: readonly T[]): T[] {
  const out: T[] = [];
  for (const p of points) {
    if (out.length && chartTime(out[out.length - 1].ts) === chartTime(p.ts)) out[out.length - 1] = p;
    else if (!out.length || chartTime(p.ts) > chartTime(out[out.length - 1].ts)) out.push(p);
  }
  return out;
}

/**
 * Equity (USDT, line, upper pane) and drawdown from the peak (%, area, lower pane) on one
 * time axis; breakers as markers on the equity line.
 */
export function EquityChart(props: { points: readonly EquitySample[]; drawdownUnit: 'USDT' | '%'; breakers?: readonly ChartMarker[]; height?: number; testId?: string }) {
  const [el, chart] = useChart();
  const { points, breakers, drawdownUnit } = props;
  useEffect(() => {
    const c = chart.current;
    if (!c || !points.length) return;
    const pts = lastPerSecond(points);
    const eq = c.addSeries(LineSeries, { color: COLORS.equity, lineWidth: 2, title: 'equity USDT', priceFormat: { type: 'price', precision: 2, minMove: 0.01 } });
    eq.setData(pts.map((p) => ({ time: chartTime(p.ts) as UTCTimestamp, value: plot(p.equity) })));
    const dd = c.addSeries(
      AreaSeries,
      { lineColor: COLORS.drawdown, topColor: 'rgba(239,83,80,0.05)', bottomColor: 'rgba(239,83,80,0.45)', lineWidth: 1, title: `drawdown ${drawdownUnit}`, invertFilledArea: true, priceFormat: { type: 'price', precision: 2, minMove: 0.01 } },
      1,
    );
    dd.setData(pts.map((p) => ({ time: chartTime(p.ts) as UTCTimestamp, value: -plot(p.drawdown) * (drawdownUnit === '%' ? 100 : 1) })));
    const pane = c.panes()[1];
    pane?.setHeight(Math.round((props.height ?? 300) * 0.3));
    const markerBars = pts.map((p) => ({ openTime: p.ts, open: p.equity, high: p.equity, low: p.equity, close: p.equity }));
    const plugin = createSeriesMarkers(eq, toMarkers(breakers ?? [], markerBars));
    c.timeScale().fitContent();
    return () => {
      if (chart.current !== c) return; // the chart and its series are gone already (see PriceChart)
      plugin.detach();
      c.removeSeries(eq);
      c.removeSeries(dd);
    };
  }, [chart, points, breakers, drawdownUnit, props.height]);
  return <div className="chart" ref={el} style={{ height: props.height ?? 300 }} data-testid={props.testId ?? 'equity-chart'} />;
}
