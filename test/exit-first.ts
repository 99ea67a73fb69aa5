/**
 * Imported first by every script a test starts as a process: it leaves through the
 * package's installExit() (_exit(2) after the 'exit' listeners), as the mpdk programs do, so
 * that no child can hang in Node 24's own exit (src/eal/exit.ts says why).
 */
import { installExit } from '../src/index.js';

installExit();
