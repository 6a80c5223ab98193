"""The license contract (开放许可实施合同) as a PDF: Chinese text, then the English version.

Generated from the license's terms snapshot, never from the declaration as it is now, so a later
declaration cannot change a signed contract. ReportLab's built-in CID font STSong-Light renders
Chinese without a font file, and `invariant=1` fixes the creation date and document id: the same
license always gives the same bytes, so the SHA-256 is a stable ETag and the filing event can
name the exact document that was filed.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from django.utils.translation import gettext_lazy as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import (
    Flowable,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from licensing.models import License, LicenseStatus
from licensing.terms import filing_deadline
from marketplace.errors import Conflict

FONT = "STSong-Light"
# Statuses a contract exists for: it took effect (and may have ended since).
DOCUMENT_STATUSES = (LicenseStatus.EFFECTIVE, LicenseStatus.ENDED)

PAYMENT_METHOD = {
    "free": ("免费许可（许可使用费为零）", "free of charge (royalty zero)"),
    "lump_sum": ("一次性付费", "lump sum"),
    "running_royalty": ("提成支付", "running royalty"),
    "entry_fee_plus_royalty": ("入门费附加提成", "entry fee plus running royalty"),
}
ROYALTY_BASIS = {"net_sales": ("净销售额", "net sales"), "profit": ("利润", "profit")}
PATENT_TYPE = {
    "invention": ("发明专利", "invention patent"),
    "utility_model": ("实用新型专利", "utility model patent"),
    "design": ("外观设计专利", "design patent"),
}


@dataclass(frozen=True)
class LicenseDocument:
    """The rendered contract, its download name and its SHA-256 (hex)."""

    content: bytes
    filename: str
    sha256: str


def _money(value: Any) -> str:
    return f"{Decimal(str(value)):,.2f}"


def _rate(value: Any) -> str:
    # The snapshot keeps four decimals ("3.5000"); the contract shows the rate as declared.
    return format(Decimal(str(value)).normalize(), "f")


def _iso(value: date | None) -> str:
    return value.isoformat() if value else "—"


def _payment_lines(terms: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The payment clauses in Chinese and in English."""
    method = terms.get("payment_method") or ""
    zh_method, en_method = PAYMENT_METHOD.get(method, (method, method))
    zh = [f"支付方式：{zh_method}。"]
    en = [f"Payment mode: {en_method}."]
    if terms.get("lump_sum_cny"):
        amount = _money(terms["lump_sum_cny"])
        zh.append(f"一次性许可使用费：人民币 {amount} 元，于发出书面通知时支付。")
        en.append(f"Lump-sum royalty: CNY {amount}, paid with the written notice.")
    if terms.get("entry_fee_cny"):
        amount = _money(terms["entry_fee_cny"])
        zh.append(f"入门费：人民币 {amount} 元，于发出书面通知时支付。")
        en.append(f"Entry fee: CNY {amount}, paid with the written notice.")
    if terms.get("royalty_rate_percent"):
        rate = _rate(terms["royalty_rate_percent"])
        basis = terms.get("royalty_basis") or ""
        zh_basis, en_basis = ROYALTY_BASIS.get(basis, (basis, basis))
        zh.append(f"提成：按实施本专利产品的{zh_basis}的 {rate}% 计付。")
        en.append(f"Running royalty: {rate} % of the {en_basis} of products using the patent.")
    if terms.get("minimum_annual_royalty_cny"):
        amount = _money(terms["minimum_annual_royalty_cny"])
        zh.append(f"每年最低许可使用费：人民币 {amount} 元。")
        en.append(f"Minimum annual royalty: CNY {amount}.")
    return zh, en


def _term_lines(terms: dict[str, Any], license: License) -> tuple[str, str]:
    years = terms.get("license_term_years")
    end = _iso(license.term_end)
    if years:
        return (
            f"许可期限：自生效之日起 {years} 年，至 {end} 止（不超过专利权期限）。",
            f"Term: {years} years from the effective date, until {end} "
            "(never beyond the patent's term).",
        )
    return (
        f"许可期限：自生效之日起至专利权期限届满之日（{end}）止。",
        f"Term: from the effective date until the patent expires ({end}).",
    )


def _sublicense(terms: dict[str, Any]) -> tuple[str, str]:
    """No sublicense unless the declaration's other terms allow one (Patent Law Art. 12)."""
    other = str(terms.get("other_terms") or "")
    if "分许可" in other or "sublicens" in other.lower():
        return (
            "被许可人仅可按本声明“其他条件”中载明的范围和方式许可第三方实施本专利。",
            "The licensee may permit third parties to exploit the patent only as the declaration's "
            "other terms state.",
        )
    return (
        "被许可人无权允许本合同以外的任何单位或者个人实施本专利（不得分许可）。",
        "The licensee may not permit any entity or person outside this contract to exploit the "
        "patent (no sublicense).",
    )


def _party_rows(license: License) -> tuple[list[list[str]], list[list[str]]]:
    licensor, licensee = license.licensor, license.licensee
    zh = [
        ["许可人（专利权人）", licensor.name],
        ["统一社会信用代码", licensor.credit_code or "—"],
        ["地址", licensor.address or "—"],
        ["被许可人", licensee.name],
        ["统一社会信用代码", licensee.credit_code or "—"],
        ["地址", licensee.address or "—"],
    ]
    en = [
        ["Licensor (patentee)", licensor.name_en or licensor.name],
        ["Unified social credit code", licensor.credit_code or "—"],
        ["Address", licensor.address or "—"],
        ["Licensee", licensee.name_en or licensee.name],
        ["Unified social credit code", licensee.credit_code or "—"],
        ["Address", licensee.address or "—"],
    ]
    return zh, en


def _table(rows: list[list[str]], style: ParagraphStyle) -> Table:
    cells = [
        [Paragraph(escape(label), style), Paragraph(escape(value), style)] for label, value in rows
    ]
    table = Table(cells, colWidths=[50 * mm, 110 * mm])
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, "#888888"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _signatures(style: ParagraphStyle, labels: tuple[str, str, str, str]) -> Table:
    licensor, licensee, signed, seal = labels
    cell = f"{{party}}<br/><br/>{signed} ____________________<br/><br/>{seal}"
    table = Table(
        [
            [
                Paragraph(cell.format(party=licensor), style),
                Paragraph(cell.format(party=licensee), style),
            ]
        ],
        colWidths=[80 * mm, 80 * mm],
    )
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return table


def _story(license: License) -> list[Flowable]:
    terms = license.terms
    patent = license.patent
    number = terms.get("declaration_number") or "—"
    deadline = _iso(filing_deadline(license.effective_date))
    zh_type, en_type = PATENT_TYPE.get(patent.patent_type, (patent.patent_type,) * 2)
    zh_pay, en_pay = _payment_lines(terms)
    zh_term, en_term = _term_lines(terms, license)
    zh_sub, en_sub = _sublicense(terms)
    zh_parties, en_parties = _party_rows(license)
    other = str(terms.get("other_terms") or "").strip()

    title = ParagraphStyle("title", fontName=FONT, fontSize=16, leading=22, alignment=1)
    heading = ParagraphStyle("heading", fontName=FONT, fontSize=12, leading=18, spaceBefore=8)
    body = ParagraphStyle("body", fontName=FONT, fontSize=10, leading=15, wordWrap="CJK")

    def paragraphs(lines: list[str]) -> list[Flowable]:
        return [Paragraph(escape(line), body) for line in lines]

    zh_patent = [
        ["专利名称", patent.title],
        ["专利号（申请号）", patent.application_number],
        ["专利类型", zh_type],
        ["开放许可声明编号", number],
        ["声明生效日", terms.get("declaration_effective_date") or "—"],
        ["本许可生效日", _iso(license.effective_date)],
        ["许可期限届满日", _iso(license.term_end)],
        ["备案期限", deadline],
    ]
    en_patent = [
        ["Patent title", patent.title],
        ["Patent (application) number", patent.application_number],
        ["Patent type", en_type],
        ["Open-license declaration no.", number],
        ["Declaration effective", terms.get("declaration_effective_date") or "—"],
        ["License effective", _iso(license.effective_date)],
        ["Term ends", _iso(license.term_end)],
        ["Filing deadline", deadline],
    ]
    zh_clauses = [
        f"一、本许可依据《中华人民共和国专利法》第五十条、第五十一条及开放许可声明 {number} 实施。"
        "被许可人以书面方式通知专利权人，并依照公告的许可使用费支付方式、标准支付许可使用费后，"
        f"即获得专利实施许可，自 {_iso(license.effective_date)} 起生效。",
        "二、本许可为普通许可（非独占、非排他）。开放许可实施期间，专利权人不得就该专利给予独占或者排他许可。",
        "三、本许可的条件与开放许可声明公告的条件相同，专利权人以相同条件许可任何被许可人实施。",
        f"四、{zh_sub}",
        "五、开放许可声明被撤回的，不影响在先给予的本许可的效力。",
        f"六、当事人应自本许可生效之日起三个月内（即 {deadline} 前）向国务院专利行政部门办理备案。",
        "七、实行提成支付的，被许可人按期报告实施本专利产品的销售额或者利润，并按期支付许可使用费。",
        "八、当事人就实施开放许可发生纠纷的，由当事人协商解决；不愿协商或者协商不成的，"
        "可以请求国务院专利行政部门进行调解，也可以向人民法院起诉（专利法第五十二条）。",
        "九、本合同以中文和英文书就，两种文本如有不一致，以中文文本为准。",
    ]
    en_clauses = [
        f"1. This license is granted under Articles 50 and 51 of the Patent Law of the PRC and "
        f"open-license declaration {number}. The licensee obtained it by notifying the patentee in "
        "writing and paying the royalty in the announced mode and amount; it takes effect on "
        f"{_iso(license.effective_date)}.",
        "2. This is an ordinary license: non-exclusive and not sole. While the open license is in "
        "force the patentee may not grant an exclusive or sole license on the patent.",
        "3. The terms are those announced in the declaration; the patentee grants every licensee "
        "the same terms.",
        f"4. {en_sub}",
        "5. A withdrawal of the declaration does not affect this license, granted before it.",
        "6. The license is filed with the patent administration department of the State Council "
        f"within three months of taking effect, by {deadline}.",
        "7. Under a running royalty the licensee reports the sales or profit of products using the "
        "patent and pays the royalty when due.",
        "8. Disputes over the open license are settled by negotiation; failing that, either party "
        "may ask the patent administration department of the State Council to mediate, or sue in a "
        "people's court (Patent Law Art. 52).",
        "9. This contract is written in Chinese and English; the Chinese text prevails.",
    ]

    story: list[Flowable] = [
        Paragraph("专利开放许可实施合同", title),
        Paragraph(f"许可编号 {license.pk}", body),
        Spacer(1, 4 * mm),
        Paragraph("一、当事人", heading),
        _table(zh_parties, body),
        Paragraph("二、专利与许可", heading),
        _table(zh_patent, body),
        Paragraph("三、许可使用费", heading),
        *paragraphs(zh_pay),
        Paragraph(escape(zh_term), body),
        Paragraph("四、开放许可的法定条款", heading),
        *paragraphs(zh_clauses),
    ]
    if other:
        story += [Paragraph("五、声明中的其他条件", heading), Paragraph(escape(other), body)]
    story += [
        Spacer(1, 10 * mm),
        _signatures(body, ("许可人（盖章）：", "被许可人（盖章）：", "授权代表签字：", "日期：")),
        PageBreak(),
        Paragraph("Open-License Patent Exploitation Contract (English version)", title),
        Paragraph(f"License no. {license.pk}", body),
        Spacer(1, 4 * mm),
        Paragraph("1. Parties", heading),
        _table(en_parties, body),
        Paragraph("2. Patent and license", heading),
        _table(en_patent, body),
        Paragraph("3. Royalty", heading),
        *paragraphs(en_pay),
        Paragraph(escape(en_term), body),
        Paragraph("4. Statutory terms of an open license", heading),
        *paragraphs(en_clauses),
    ]
    if other:
        story += [
            Paragraph("5. Other terms of the declaration (as declared)", heading),
            Paragraph(escape(other), body),
        ]
    story += [
        Spacer(1, 10 * mm),
        _signatures(
            body,
            ("Licensor (seal):", "Licensee (seal):", "Authorised signatory:", "Date:"),
        ),
    ]
    return story


def _register_font() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def license_document(license: License) -> LicenseDocument:
    """The contract of an effective (or since ended) open license, rendered reproducibly."""
    if (
        license.status not in DOCUMENT_STATUSES
        or license.effective_date is None
        or not license.is_open_license
    ):
        raise Conflict(
            "license_not_effective",
            _("A license has a contract document only once it has taken effect."),
        )
    _register_font()
    buffer = io.BytesIO()
    number = license.terms.get("declaration_number") or "license"
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        invariant=1,
        title=f"专利开放许可实施合同 / Open-license contract {license.pk}",
        author="open-license marketplace",
        subject=str(number),
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
    )
    document.build(_story(license))
    content = buffer.getvalue()
    return LicenseDocument(
        content=content,
        filename=f"license-{license.pk}-{number}.pdf",
        sha256=hashlib.sha256(content).hexdigest(),
    )
