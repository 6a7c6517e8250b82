import type {} from 'vitest';

// What the global setup provides to every test file (`inject('redisUrl')`); any import of the test kit
// brings this declaration along.
declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}
