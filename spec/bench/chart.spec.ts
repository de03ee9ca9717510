import { expect } from "chai";
import { barChart, escapeXml } from "../../bench/chart.js";

describe("bench barChart(title, panels)", () => {
  const svg = barChart("ratios <to> floor", [
    { title: "wall", target: 2, bars: [{ label: "fast", value: 1.5 }, { label: "slow & big", value: 3 }, { label: "peer", value: 5, judged: false }] },
    { title: "rss", bars: [{ label: "unknown", value: Number.NaN }] },
  ]);

  it("is one standalone SVG document", () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).to.equal(true);
    expect(svg.trimEnd().endsWith("</svg>")).to.equal(true);
  });

  it("escapes titles and labels", () => {
    expect(svg).to.include("ratios &#60;to&#62; floor");
    expect(svg).to.include("slow &#38; big");
    expect(svg).not.to.include("slow & big");
  });

  it("marks judged bars over the target, and only those", () => {
    expect(svg.match(/class="over"/g)).to.have.length(1);
    expect(svg.match(/class="ref"/g)).to.have.length(1);
    expect(svg).to.include("target 2.00x");
  });

  it("draws bars proportional to their values on one scale", () => {
    const widths = [...svg.matchAll(/<rect x="\d+" y="\d+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(widths[1]! / widths[0]!).to.be.closeTo(2, 0.01);
  });

  it("prints n/a for a value that was not measured", () => {
    expect(svg).to.include(">n/a<");
  });
});

describe("bench escapeXml(text)", () => {
  it("escapes the five XML specials", () => {
    expect(escapeXml(`<a href="x">'&'</a>`)).to.equal("&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;");
  });
});
