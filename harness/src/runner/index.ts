export { runPlan, type RunOptions, type RunOutcome } from './run';
export { TeardownStack } from './teardown';
export { resolveBundle, type BundleOpener } from './bundle';
