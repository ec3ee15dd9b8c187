import { cp } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { defineConfig } from 'tsup';

const WEB_CLIENT_DIST = '../../examples/web-client/dist';

export default defineConfig({
  entry: { index: 'src/index.ts', bin: 'src/bin.ts' },
  format: ['esm'],
  dts: { entry: { index: 'src/index.ts' } },
  clean: true,
  sourcemap: true,
  target: 'node20',
  // The client page ships inside the package (served at `/` by `--web-client builtin`).
  async onSuccess() {
    if (existsSync(`${WEB_CLIENT_DIST}/index.html`))
      await cp(WEB_CLIENT_DIST, 'dist/web', { recursive: true });
  },
});
