// What the per-package checks of `winpv package verify` (verify-checks.ts, verify-signatures.ts)
// are given and give back, and the sign modes verify.ts enforces.
import type { Problem, SourceLocation } from '../model/errors';
import type { DriverSpec, SpecSet } from '../model/spec';
import { join } from 'node:path';
import { listFiles, type Arch, type PackageInf } from '../inf/index';
import { at } from './tap';

export type VerifyCheck = 'inf' | 'driver-ver' | 'version' | 'hardware-ids' | 'revisions' | 'services' | 'files' | 'catalog' | 'signature' | 'manifest' | 'identify';

export const SIGN_MODES = ['TestSign', 'ProductionSign', 'NoSign'] as const;
export type SignMode = (typeof SIGN_MODES)[number];

export interface PackageContext {
  root: string;
  pkg: PackageInf;
  spec: DriverSpec;
  arch: Arch;
  set: { pkg: PackageInf; spec: DriverSpec }[];
  version?: string;
  vendorPrefix?: string;
  signMode: SignMode;
  /** The roots the enforced mode trusts. */
  caFile?: string;
  tsaCaFile?: string;
  specs: SpecSet;
}

export interface CheckOutcome {
  ok: boolean;
  skip?: string;
  message: string;
  diagnostics?: Record<string, unknown>;
  signers?: string[];
}

export interface PackageCheck {
  name: VerifyCheck;
  run(ctx: PackageContext): CheckOutcome | Promise<CheckOutcome>;
}

export const locText = (loc: SourceLocation) => at(loc);
export const problemsDiag = (ps: readonly Problem[]) => ps.map((p) => `${locText(p.location)}: ${p.message}`);
export const pass = (message: string): CheckOutcome => ({ ok: true, message });
export const fail = (message: string, diagnostics: Record<string, unknown>): CheckOutcome => ({ ok: false, message, diagnostics });

/** Files of the package directory by lower-case name (Windows file names are case-insensitive). */
export async function packageFiles(root: string, dir: string): Promise<Map<string, string>> {
  const all = await listFiles(join(root, dir));
  return new Map(all.filter((f) => !f.includes('/')).map((f) => [f.toLowerCase(), f]));
}
