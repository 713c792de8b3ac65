// The inf/ API: Windows INF parsing and rendering, and driver bundles (directory, ISO, zip).
// Used by build/ (verify, bundle), the simulator's Windows guest and the real guest agents.
export { decodeInf, lexInf, splitFields } from './lexer';
export type { RawField, RawLine, RawSection } from './lexer';
export { parseInf, entriesWithKey, valueOf } from './document';
export type { InfDocument, InfSection, InfEntry, ParseOptions } from './document';
export { parseDriverVer, parseFourPartVersion, formatDriverVer } from './driver-ver';
export type { DriverVer } from './driver-ver';
export {
  readDriverInf,
  interpretInf,
  devicesFor,
  catalogFor,
  serviceBinaryName,
  decorationMatches,
  decorationPlatform,
  infNumber,
  ARCH_DECORATION,
} from './driver-inf';
export type { Arch, DriverInf, InfVersion, InfManufacturer, InfDevice, InfService, InfCopyFile, InfSourceFile, InfSourceDisk, InfDestinationDir, Located } from './driver-inf';
export { renderInf, renderHardwareIds, classGuidOf } from './render';
export type { RenderOptions } from './render';
export { openBundle, readManifest, validateManifest, listFiles, describeFiles, sha256File, checkManifestFiles } from './bundle';
export type { OpenedBundle, BundleManifest, BundleFile, BundleDriver } from './bundle';
export { writeIsoImage, isoVolumeId } from './iso';
export { WINPV_BUNDLE, TOOLS_ISO, ARCH_NAMES } from './layouts';
export type { LayoutArch } from './layouts';
export { readPackageSet } from './package-set';
export type { PackageInf } from './package-set';
export { writeZip, readZip, extractZip, crc32, ZipFormatError } from './zip';
export type { ZipInput, ZipEntry } from './zip';
