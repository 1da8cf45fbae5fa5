// The backtest report as ONE self-contained HTML file (scripts and styles inlined), opened
// from disk: `backtestHtml` (apps/cli) fills its `bulwark-report` JSON placeholder.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { viteSingleFile } from 'vite-plugin-singlefile';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: resolve(here, 'src/report'),
  base: './',
  plugins: [react(), viteSingleFile()],
  build: {
    outDir: resolve(here, 'dist/report'),
    emptyOutDir: true,
    rollupOptions: { input: resolve(here, 'src/report/report.html') }, sourcemap: false, chunkSizeWarningLimit: 2048 },
});
