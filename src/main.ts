// `npm start` (dist/main.js) and `npm run dev`: check the Node.js version, turn on Node's compile
// cache, then load the server (src/start.ts). The server's modules are imported dynamically so that
// both come first: an ES module graph is fetched, parsed and compiled whole before any of it runs,
// so a check or enableCompileCache() among static imports would come too late.
import './node-version.js';
import module from 'node:module';

// Compiled start only (dist/): V8's code cache for every module loaded from here on, kept in the
// OS temporary folder (NODE_COMPILE_CACHE=DIR moves it, NODE_DISABLE_COMPILE_CACHE=1 turns it off).
// A restart then skips compiling the modules' JavaScript again. Not under tsx (`npm run dev`, tests).
if (import.meta.filename.endsWith('.js')) module.enableCompileCache();
await import('./start.js');
