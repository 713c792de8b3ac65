// Located XML for every loader of winpv (driver specs, scenarios, workload results, ...):
//   readXmlFile(path) / parseXml(text, file)  -> { root?: XmlElement, problems }
//   validate(root, rootName, shape)           -> Problem[]   (declarative XSD subset, all problems)
//   problemsError(code, what, problems)       -> WinpvError  (kind 'input', exit 2)
export { XmlElement } from './element';
export { parseXml, readXmlFile, type XmlReadResult } from './read';
export {
  validate,
  checkValue,
  types,
  splitList,
  intValue,
  hexValue,
  boolValue,
  type ValueType,
  type AttrShape,
  type ChildShape,
  type ElementShape,
} from './shape';
export { escapeXml } from './escape';
export { problemsError, throwIfProblems, sortProblems, formatProblems } from './problems';
