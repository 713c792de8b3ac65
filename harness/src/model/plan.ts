// The plan: pure data made by the planner from scenarios and run options, consumed by the runner.
import type { Scenario } from './scenario';

export interface PlanInstance {
  /** Unique within a run: `<scenario>` or `<scenario>[ring-page-order=2]`. */
  id: string;
  scenario: Scenario; // already expanded: no ${...} left
  params: Record<string, string>;
  /** Set when the host lacks a capability or a filter excluded it; the instance is reported as skipped. */
  skip?: string;
}

export interface RunPlan {
  seed: number;
  instances: PlanInstance[];
  shard?: { index: number; count: number };
}
