// Reporters: TAP 14, JUnit, summary.json, HTML, console, and the multiplexer.
export { renderTap, renderInstance, TapStreamReporter } from './tap';
export { renderJunit } from './junit';
export { renderHtml } from './html';
export { ConsoleReporter } from './console';
export { ReporterMultiplexer } from './multiplexer';
export { writeReports, updateLatest, FileReporter, renderSummaryJson, type RunMeta } from './files';
