// Driver specs: drivers-spec/<driver>.xml -> validated DriverSpec objects.
//   loadSpecs(dir?)           -> SpecSet, or throws one WinpvError (SPEC_INVALID, exit 2) with every problem
//   checkSpecs(dir?)          -> { specs, documents, problems } without throwing (winpv spec lint)
//   checkSpecFiles(files)     -> the same for a list of files
//   defaultSpecDir()          -> the repository's drivers-spec/, found from the installed package
//   specDigests(result)       -> sha256 of each spec file by driver (trace header)
//   renderSpec / specJson     -> winpv spec show
//   LINT_RULES                -> every lint rule id and what it checks
export { loadSpecs, checkSpecs, checkSpecFiles, defaultSpecDir, displayPath, specDigests, type SpecDocument, type SpecCheckResult } from './load';
export { lintSpecs, LINT_RULES, VENDOR_DEVICE_BLOCKS } from './lint';
export { renderSpec, specJson } from './render';
export { driverSpecShape } from './shape';
export { parseCondition, parseConstraint } from './expressions';
