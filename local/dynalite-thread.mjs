// The dynalite thread's entry: a worker starts without the TypeScript loader of its parent
// (tsx from the command line, vitest in tests), so it loads the typed module through tsx's API.
import { tsImport } from 'tsx/esm/api';

const thread = await tsImport('./dynalite-thread.ts', import.meta.url);
thread.serveDynaliteThread();
