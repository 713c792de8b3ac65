// Scenario loading: scenarios/*.xml -> model Scenario objects, with located problems.
export { loadScenarios, loadScenarioFile, scenarioFiles, type LoadedScenario } from './load';
export { parseDuration, parseSize } from './units';
