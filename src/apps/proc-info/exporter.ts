/** `mpdk exporter --file-prefix X [--prometheus :PORT]`: the Prometheus endpoint alone (proc-info/metrics.ts). */
export { exporterMain as main, exporterSpec as spec } from './main.js';
