import { describe, expect, it } from "vitest";
import { background, urgent, WaitingLine } from "../../src/lib/waiting-line.js";

describe("WaitingLine", () => {
  it("wakes urgent callers first, each kind in the order it came", async () => {
    const line = new WaitingLine();
    const woken: string[] = [];
    const wait = (name: string, urgency = urgent()) =>
      line.wait(urgency).then(() => woken.push(name));
    const all = [wait("b1", background()), wait("u1"), wait("b2", background()), wait("u2")];
    expect(line.length).toBe(4);
    expect(line.hasUrgent()).toBe(true);
    while (line.wakeNext()) {}
    await Promise.all(all);
    expect(woken).toEqual(["u1", "u2", "b1", "b2"]);
    expect(line.length).toBe(0);
  });

  it("wakes no background caller when told not to, and a raised urgency counts at once", async () => {
    const line = new WaitingLine();
    const raised = background();
    const first = line.wait(background());
    const second = line.wait(raised);
    expect(line.wakeNext(false)).toBe(false);
    raised.urgent = true;
    expect(line.wakeNext(false)).toBe(true);
    await second;
    expect(line.length).toBe(1);
    expect(line.wakeNext()).toBe(true);
    await first;
  });
});
