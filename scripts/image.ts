// `npm run image`: builds the base image and the project image (topology/src/docker/images.ts);
// exits 1 with the reason when no Docker engine answers or a build fails.
import { buildImages } from '../topology/src/docker/images.ts';

const t0 = Date.now();
try {
  await buildImages((line) => console.log(line));
  console.log(`image: done in ${Math.round((Date.now() - t0) / 100) / 10} s`);
} catch (err) {
  console.error(`image: ${(err as Error).message}`);
  process.exitCode = 1;
}
