// Writes schema/model.schema.json from the artifact's TypeBox definition (run `npm run schema`).
import { writeFileSync } from 'node:fs';
import { artifactJsonSchema } from '../dist/pipeline/artifact-schema.js';

const path = new URL('../schema/model.schema.json', import.meta.url);
writeFileSync(path, artifactJsonSchema());
console.log(`wrote ${path.pathname}`);
