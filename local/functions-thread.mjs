// The functions thread's entry: a worker starts without the TypeScript loader of its parent
// (tsx from the command line, vitest in tests), so it loads the typed module through tsx's API.
import { tsImport } from 'tsx/esm/api';

const thread = await tsImport('./functions-thread.ts', import.meta.url);
await thread.serveFunctionsThread();
