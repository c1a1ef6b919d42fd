import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  color: string;
  /** Fill down to the previous series (a stacked band) or to zero. */
  fill?: 'band' | 'zero';
}

/**
 * A uPlot time chart. Data is [times (s), ...one array per series]; for stacked series the caller
 * passes cumulative values and marks them `fill: 'band'`.
 */
export function Chart({ title, series, data, yLabel, max }: { title: string; series: Series[]; data: number[][]; yLabel: string; max?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const el = box.current!;
    const bands = series.flatMap((s, i) => (s.fill === 'band' && i > 0 ? [{ series: [i + 1, i] as [number, number], fill: `${s.color}55` }] : []));
    const opts: uPlot.Options = {
      width: el.clientWidth || 400,
      height: 180,
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: max !== undefined ? { range: [0, max] } : { auto: true } },
      axes: [
        { stroke: 'currentColor', grid: { stroke: '#8882' } },
        { stroke: 'currentColor', grid: { stroke: '#8882' }, label: yLabel, size: 60 },
      ],
      series: [
        {},
        ...series.map((s, i) => ({
          label: s.label,
          stroke: s.color,
          width: 1.5,
          fill: s.fill === 'zero' || (s.fill === 'band' && i === 0) ? `${s.color}55` : undefined,
          points: { show: false },
        })),
      ],
      bands,
    };
    plot.current = new uPlot(opts, data as uPlot.AlignedData, el);
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: el.clientWidth, height: 180 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // The chart is rebuilt only when its shape changes; data flows in through setData below.
  }, [series.map((s) => s.label).join('|'), max]);

  useEffect(() => {
    plot.current?.setData(data as uPlot.AlignedData);
  }, [data]);

  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} role="img" aria-label={`${title} chart`} data-points={data[0]?.length ?? 0} />
    </figure>
  );
}
