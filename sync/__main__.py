from sync.entry import leadscore

leadscore()
