// One loaded driver spec file, as the loader (load.ts) hands it to the lint rules (lint.ts).
import type { DriverSpec } from '../model/spec';
import type { XmlElement } from '../xml/index';

/** One loaded file: where it is, its located tree and the spec built from it. */
export interface SpecDocument {
  /** The file as shown in messages (relative to the working directory when inside it). */
  file: string;
  root: XmlElement;
  spec: DriverSpec;
  /** sha256 (hex) of the file's bytes, for the trace header (`run.start` specs). */
  sha256: string;
}
