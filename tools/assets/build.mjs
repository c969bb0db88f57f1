// Builds gateway/web/static from GOV.UK Frontend (the version pinned in package.json):
//   govuk-frontend.min.css  GOV.UK Frontend's Sass with the system font stack (gateway.scss)
//   govuk-frontend.min.js   GOV.UK Frontend's own ES module bundle, started by init.js
// No fonts (GDS Transport is licensed for GOV.UK only) and no crown images: this is not
// a GOV.UK service. The output is committed so the node never needs Node.js.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as sass from "sass";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "..", "gateway", "web", "static");
const dist = join(here, "node_modules", "govuk-frontend", "dist", "govuk");
const version = JSON.parse(
  readFileSync(join(here, "node_modules", "govuk-frontend", "package.json"), "utf8"),
).version;

mkdirSync(out, { recursive: true });
const css = sass.compile(join(here, "gateway.scss"), {
  style: "compressed",
  importers: [new sass.NodePackageImporter()],
  quietDeps: true,
});
if (/GDS Transport|\/fonts\//.test(css.css)) {
  throw new Error("the compiled CSS names GDS Transport or a font file");
}
writeFileSync(join(out, "govuk-frontend.min.css"), `/* GOV.UK Frontend ${version}, MIT licence; system font stack */\n${css.css}\n`);
// Without its source map comment: the map is not shipped, so nothing asks for it.
const js = readFileSync(join(dist, "govuk-frontend.min.js"), "utf8").replace(
  /\n?\/\/# sourceMappingURL=\S+\s*$/,
  "\n",
);
writeFileSync(join(out, "govuk-frontend.min.js"), js);
writeFileSync(join(out, "GOVUK_FRONTEND_VERSION"), `${version}\n`);
console.log(`gateway/web/static: GOV.UK Frontend ${version} (${css.css.length} bytes of CSS)`);
