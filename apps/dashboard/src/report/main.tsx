/* The one-file backtest report: reads the embedded JSON and renders the report. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import '../styles.css';
import { BacktestReport } from './BacktestReport';
import { toReportData } from './report-data';

const root = createRoot(document.getElementById('root')!);
try {
  const raw = document.getElementById('bulwark-report')?.textContent ?? 'null';
  const data = toReportData(JSON.parse(raw));
  document.title = data.title;
  root.render(
    <StrictMode>
      <BacktestReport data={data} />
    </StrictMode>,
  );
} catch (e) {
  root.render(<p className="error">This page has no report data: {(e as Error).message}</p>);
}
