/// Left-aligned text columns, right-aligned from `numericFrom` on.
enum TextColumns {
    static func render(header: [String], rows: [[String]], numericFrom: Int) -> [String] {
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        return ([header] + rows).map { row in
            row.indices.map { column in
                let pad = String(repeating: " ", count: widths[column] - row[column].count)
                return column >= numericFrom ? pad + row[column] : row[column] + pad
            }.joined(separator: "  ")
        }
    }
}
