import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { MinHeap } from "../../src/adapters/memory/internal/MinHeap.js"
import { Recency, type RecencyNode } from "../../src/internal/Recency.js"

describe("MinHeap", () => {
  it.prop(
    "pops items in key order, each one pushed and not yet popped, whatever the interleaving",
    [fc.array(fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.constant<"pop">("pop")), { maxLength: 300 })],
    ([ops]) => {
      const heap = new MinHeap<string>()
      const model: Array<[number, string]> = []
      let n = 0
      for (const op of ops) {
        if (op === "pop") {
          if (model.length === 0) {
            expect(heap.size).toBe(0)
            expect(heap.peekKey()).toBe(Infinity)
            continue
          }
          model.sort((a, b) => a[0] - b[0])
          const key = heap.peekKey()
          expect(key).toBe(model[0]![0])
          const item = heap.pop()
          const index = model.findIndex(([k, i]) => k === key && i === item)
          expect(index).toBeGreaterThanOrEqual(0)
          model.splice(index, 1)
        } else {
          heap.push(op, `item${n}`)
          model.push([op, `item${n}`])
          n++
        }
        expect(heap.size).toBe(model.length)
      }
    }
  )
})

interface Node extends RecencyNode {
  readonly id: number
}

describe("Recency", () => {
  it.prop(
    "orders nodes least to most recently used, each once, under random uses and removals",
    [fc.array(fc.record({ node: fc.nat(15), remove: fc.boolean() }), { maxLength: 200 })],
    ([ops]) => {
      const nodes: Array<Node> = Array.from(
        { length: 16 },
        (_, id) => ({ id, older: null, newer: null, linked: false })
      )
      const list = new Recency<Node>()
      let model: Array<number> = []
      for (const { node, remove } of ops) {
        model = model.filter((id) => id !== node)
        if (remove) list.remove(nodes[node]!)
        else {
          list.use(nodes[node]!)
          model.push(node)
        }
        const walked: Array<number> = []
        for (let n = list.oldest; n !== null; n = list.newerThan(n)) walked.push(n.id)
        expect(walked).toEqual(model)
      }
    }
  )
})
