// cti.d.mts: the types of the ES module entry (cti.mjs), so that
// `import CTI from '/static/cti.mjs'` is typed. The declarations live in cti.d.ts.
export * from './cti.js';
export { default, default as CTI } from './cti.js';
