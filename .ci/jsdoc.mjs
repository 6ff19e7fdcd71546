// Every public export, and every member of an exported class, interface or type literal, has a JSDoc comment.
// Public = what the package's entry points export (package.json "exports"), followed through re-exports.
import ts from 'typescript';

const ENTRIES = [
  'src/index.ts',
  'src/memory.ts',
  'src/kv.ts',
  'src/deno-kv.ts',
  'src/durable-object.ts',
  'src/cookie-store.ts',
  'src/hono.ts',
  'src/testing.ts',
];
const program = ts.createProgram(ENTRIES, { strict: true, target: ts.ScriptTarget.ES2022, noEmit: true });
const checker = program.getTypeChecker();
const missing = new Set();

const hasDoc = (node) => ts.getJSDocCommentsAndTags(node).length > 0;
const where = (node) => {
  const sf = node.getSourceFile();
  const { line } = sf.getLineAndCharacterOfPosition(node.getStart());
  return `${sf.fileName}:${line + 1}`;
};
const internal = (node) => ts.getJSDocTags(node).some((t) => t.tagName.text === 'internal');

function checkMembers(owner, members) {
  for (const m of members) {
    if (ts.isConstructorDeclaration(m) || internal(m)) continue;
    const mods = ts.canHaveModifiers(m) ? (ts.getModifiers(m) ?? []) : [];
    if (mods.some((x) => x.kind === ts.SyntaxKind.PrivateKeyword)) continue;
    if (m.name && ts.isPrivateIdentifier(m.name)) continue;
    if (ts.isIndexSignatureDeclaration(m)) continue;
    // One comment covers a group of overloads or a get/set pair.
    const name = m.name?.getText() ?? '(call)';
    if (!hasDoc(m) && !owner.__documented?.has(name)) missing.add(`${where(m)} ${owner.__name}.${name}`);
    else (owner.__documented ??= new Set()).add(name);
  }
}

for (const entry of ENTRIES) {
  const sf = program.getSourceFile(entry);
  const moduleSymbol = checker.getSymbolAtLocation(sf);
  for (let symbol of checker.getExportsOfModule(moduleSymbol)) {
    if (symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
    for (const decl of symbol.declarations ?? []) {
      if (!hasDoc(decl) && !ts.isSourceFile(decl)) missing.add(`${where(decl)} ${symbol.name}`);
      const owner = { __name: symbol.name };
      if (ts.isClassDeclaration(decl) || ts.isInterfaceDeclaration(decl)) checkMembers(owner, decl.members);
      if (ts.isTypeAliasDeclaration(decl) && ts.isTypeLiteralNode(decl.type)) checkMembers(owner, decl.type.members);
    }
  }
}
for (const line of [...missing].sort()) console.error(`no JSDoc: ${line}`);
if (missing.size > 0) process.exit(1);
