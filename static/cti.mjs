// cti.mjs: the ES module entry of the JS shim. It runs cti.js for its side effect (window.CTI)
// and exports that same object, so a page may mix <script src="cti.js"> and
// `import CTI from "/static/cti.mjs"` and still get one instance. Types: cti.d.ts.
import './cti.js';

const CTI = globalThis.CTI;
export default CTI;
export { CTI };
