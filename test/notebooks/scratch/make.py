import nbformat, sys
from nbformat.v4 import new_notebook, new_code_cell, new_markdown_cell
KS = {"name": "tslab", "display_name": "TypeScript", "language": "typescript"}
def mk(name, *cells):
    nb = new_notebook(metadata={"kernelspec": KS})
    nb.cells = [new_markdown_cell(c[3:]) if c.startswith("md:") else new_code_cell(c) for c in cells]
    nbformat.write(nb, name)
mk("pass.ipynb",
   "md:# A passing notebook",
   'const n: number = 21 * 2;\nconsole.log("answer", n);\nconsole.log("cwd", process.cwd());\nconsole.log("param", process.env.LAB_PARAM ?? "(unset)");',
   'import * as tslab from "tslab";\ntslab.display.html("<b>x</b>");',
   '(tslab.display as any).raw("application/vnd.vegalite.v5+json", {"$schema":"https://vega.github.io/schema/vega-lite/v5.json","data":{"values":[{"a":1,"b":2},{"a":2,"b":3}]},"mark":"bar","encoding":{"x":{"field":"a","type":"ordinal"},"y":{"field":"b","type":"quantitative"}}});',
   'import { DuckDBInstance } from "@duckdb/node-api";\nconst inst = await DuckDBInstance.create(":memory:");\nconst conn = await inst.connect();\nconst reader = await conn.runAndReadAll("select 42 as answer, version() as v");\nconsole.log(reader.getRowObjectsJson());',
   'n + 1')
mk("throw.ipynb", 'console.log("first cell ok")', 'md:text', 'throw new Error("boom")', 'console.log("must not run")')
mk("stderr.ipynb", 'console.log("ok")', 'console.error("something went wrong\\nsecond line")', 'console.log("must not run")')
mk("reject.ipynb", 'console.log("ok")', 'Promise.reject(new Error("rejected-sync"));', 'console.log("next cell")', 'console.log("last cell")')
mk("reject_last.ipynb", 'console.log("ok")', 'Promise.reject(new Error("rejected-in-last-cell"));')
mk("typeerr.ipynb", 'const x: string = 5;')
mk("after.ipynb", 'console.log("this notebook must be skipped")')
mk("slow.ipynb", 'console.log("ok")', 'await new Promise(r => setTimeout(r, 5000)); "done"')
mk("exit.ipynb", 'console.log("ok")', 'process.exit(3)')
mk("late.ipynb", 'setTimeout(() => { throw new Error("thrown-late") }, 200); 1', 'await new Promise(r => setTimeout(r, 500)); "waited"', 'console.log("3rd")')
