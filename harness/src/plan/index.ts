export { plan, expand, combinations, substitute, instanceId, fnv1a, inShard, parseShard, type PlanOptions } from './planner';
