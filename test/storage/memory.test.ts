import { after, describe, it } from 'node:test';
import { MemoryStateStorage } from '../../src/index.js';
import { describeStorageConformance } from '../../src/testing/index.js';

describeStorageConformance(
  'MemoryStateStorage',
  (options) => new MemoryStateStorage(options),
  { describe, it, after },
  // States live only as long as the instance: nothing to reopen, nothing on a medium to corrupt.
  { persistent: false, history: true },
);
