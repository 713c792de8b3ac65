// The checks: trace events + driver specs in, verdicts out. See evaluate.ts.
export { evaluate, evaluateInstance, summarize, groupByInstance, judgeTrace, CHECK_FUNCTIONS } from './evaluate';
export { pendingWork } from './ring-progress';
